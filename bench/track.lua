-- wrk script: POST /v1/user-journeys/track, batches of 100 events built once per thread.
-- Events go to `users` externalIds (journey-0 .. journey-<users-1>), so the load is many
-- journeys, not one. Categories, event types, points and metadata vary; most events carry no
-- occurredAt (the mock's now), 1 in 20 is backfilled 1 to 60 days into the past.
-- Argument (after --): the number of users (default 1000).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "pk_test_bench"

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local bodies, next_body = {}, 1
local categories = {"GAME_PLAY", "GAME_PLAY", "GAME_PLAY", "CAMPAIGN", "POINTS", "CUSTOM"}

local function event(users)
  local category = categories[math.random(#categories)]
  local fields = {string.format('"externalId":"journey-%d"', math.random(0, users - 1)),
                  string.format('"category":"%s"', category),
                  string.format('"eventType":"event_type_%d"', math.random(0, 19)),
                  string.format('"points":%d', math.random(-10, 200))}
  if category == "CAMPAIGN" then
    fields[#fields + 1] = string.format('"metadata":{"campaignSlug":"campaign-%d"}', math.random(0, 9))
  elseif category == "GAME_PLAY" and math.random() < 0.5 then
    fields[#fields + 1] = string.format('"metadata":{"gameType":"NEON_WHEEL","round":%d}', math.random(0, 20))
  end
  if math.random() < 0.05 then
    local past = os.time() - math.random(86400, 60 * 86400)
    fields[#fields + 1] = '"occurredAt":"' .. os.date("!%Y-%m-%dT%H:%M:%SZ", past) .. '"'
  end
  return "{" .. table.concat(fields, ",") .. "}"
end

function init(args)
  local users = tonumber(args[1] or "1000")
  math.randomseed(id * 7919 + os.time())
  for b = 1, 64 do
    local events = {}
    for i = 1, 100 do events[i] = event(users) end
    bodies[b] = wrk.format(nil, "/v1/user-journeys/track", nil, '{"events":[' .. table.concat(events, ",") .. ']}')
  end
end

function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return body
end
