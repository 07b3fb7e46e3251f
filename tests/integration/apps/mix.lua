-- wrk script: cycle through the paths in WRK_PATHS (comma separated), stop each
-- thread after WRK_QUOTA responses, and write per-path counts of answered
-- requests to WRK_DONE_DIR/<thread id> so the test knows exactly what was sent.
-- Run with one connection per thread, so that no request is in flight at the stop.
local paths = {}
for p in string.gmatch(os.getenv("WRK_PATHS"), "[^,]+") do
  table.insert(paths, p)
end
local quota = tonumber(os.getenv("WRK_QUOTA"))
local done_dir = os.getenv("WRK_DONE_DIR")
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
end

local n = 0
local answered = {}
local total = 0

-- wrk 4.1 calls request() once per thread without sending that request, so the
-- responses are attributed through the X-Path header the test apps echo.
function request()
  n = n + 1
  return wrk.format("GET", paths[(n - 1) % #paths + 1])
end

function response(status, headers, body)
  -- servers that do not echo X-Path (static files) are only driven with one path
  local path = headers["X-Path"] or (#paths == 1 and paths[1]) or "?"
  local key = path .. " " .. status
  answered[key] = (answered[key] or 0) + 1
  total = total + 1
  if total == quota then
    local f = io.open(done_dir .. "/" .. id, "w")
    for k, v in pairs(answered) do
      f:write(k .. " " .. v .. "\n")
    end
    f:close()
    wrk.thread:stop()
  end
end
