-- wrk script: GET requests over `users` externalIds (journey-0 .. journey-<users-1>), with the
-- path after the externalId and its query given as arguments, e.g. `-- 1000 /timeline ?page=1&limit=20`.
-- Without an argument: GET /v1/user-journeys/users/journey-<n> over 1,000 users.
wrk.headers["X-API-Key"] = "pk_test_bench"
local users, suffix, n = 1000, "", 0

function init(args)
  users = tonumber(args[1] or "1000")
  suffix = (args[2] or "") .. (args[3] or "")
end

function request()
  n = n + 1
  return wrk.format("GET", string.format("/v1/user-journeys/users/journey-%d%s", n % users, suffix))
end
