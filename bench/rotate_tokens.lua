-- wrk script: every request asks for a ZEGO token for the next user of a list, with that
-- user's own JWT, so no server can answer from one remembered token. The list is a file of
-- "userID token" lines (bench/jwt_tokens.py writes it), given after `--`:
--   wrk -s bench/rotate_tokens.lua http://127.0.0.1:PORT -- FILE
-- Each thread starts at its own place in the list (thread n at n * 7919, modulo its length)
-- and walks it in order; the requests are formatted once in init, so wrk spends no time per
-- request on them.

local threads = 0

function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end

local requests = {}
local position = 0

function init(args)
  local file = args[1]
  if file == nil then
    error("give the token file after --: wrk -s rotate_tokens.lua URL -- FILE")
  end
  for line in io.lines(file) do
    local user, token = line:match("^(%S+) (%S+)$")
    if user ~= nil then
      requests[#requests + 1] = wrk.format(
        "GET",
        "/api/token?userID=" .. user .. "&expired_ts=3600",
        { ["Authorization"] = "Bearer " .. token }
      )
    end
  end
  if #requests == 0 then
    error("no \"userID token\" lines in " .. file)
  end
  local offset = tonumber(wrk.thread:get("offset")) or 0
  position = (offset * 7919) % #requests
end

function request()
  position = position % #requests + 1
  return requests[position]
end
