-- wrk script: GET requests over `users` externalIds (<prefix>0 .. <prefix><users-1>), with the path
-- after the externalId given as an argument, e.g. `-- 1000 offers- /offers`.
-- Without an argument: GET /v1/user-journeys/users/journey-<n> over 1,000 users.
wrk.headers["X-API-Key"] = "pk_test_bench"
local users, prefix, suffix, n = 1000, "journey-", "", 0

function init(args)
  users = tonumber(args[1] or "1000")
  prefix = args[2] or prefix
  suffix = args[3] or ""
end

function request()
  n = n + 1
  return wrk.format("GET", string.format("/v1/user-journeys/users/%s%d%s", prefix, n % users, suffix))
end
