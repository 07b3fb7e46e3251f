-- wrk script in two phases. Until the file WRK_MARKER exists every request goes to
-- WRK_WARM_PATH; from then on to WRK_PATH, and each thread stops once WRK_QUOTA
-- responses to WRK_PATH came back (attributed through the X-Path header the test
-- apps echo). It then writes its count to WRK_DONE_DIR/<thread id>. Every WRK_PATH
-- request is written after the marker appeared.
local warm = os.getenv("WRK_WARM_PATH")
local path = os.getenv("WRK_PATH")
local quota = tonumber(os.getenv("WRK_QUOTA"))
local marker = os.getenv("WRK_MARKER")
local done_dir = os.getenv("WRK_DONE_DIR")
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
end

local measuring = false
local got = 0

function request()
  if not measuring then
    local f = io.open(marker, "r")
    if f then
      f:close()
      measuring = true
    end
  end
  return wrk.format("GET", measuring and path or warm)
end

function response(status, headers, body)
  if headers["X-Path"] == path then
    got = got + 1
    if got == quota then
      local f = io.open(done_dir .. "/" .. id, "w")
      f:write(path .. " " .. status .. " " .. got .. "\n")
      f:close()
      wrk.thread:stop()
    end
  end
end
