-- wrk script: every request to a path never asked before (/r/ and 12 random
-- letters); each thread stops after WRK_QUOTA responses and writes its count to
-- WRK_DONE_DIR/<thread id>.
local quota = tonumber(os.getenv("WRK_QUOTA"))
local done_dir = os.getenv("WRK_DONE_DIR")
local letters = "abcdefghijklmnopqrstuvwxyz"
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
end

function request()
  local t = {}
  for i = 1, 12 do
    local r = math.random(1, 26)
    t[i] = letters:sub(r, r)
  end
  return wrk.format("GET", "/r/" .. table.concat(t))
end

local got = 0

function response(status, headers, body)
  got = got + 1
  if got == quota then
    local f = io.open(done_dir .. "/" .. id, "w")
    f:write("/r/* " .. status .. " " .. got .. "\n")
    f:close()
    wrk.thread:stop()
  end
end
