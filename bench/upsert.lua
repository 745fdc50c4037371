-- wrk script: POST /v1/user-journeys/users upserts over 1,000 overlapping externalIds.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "pk_test_bench"
local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"externalId":"bench-%d","displayName":"Bench User %d","email":"u%d@example.com",' ..
    '"country":"NG","device":"mobile","source":"referral",' ..
    '"tags":{"plan":"premium","cohort":"2025-Q1"},"metadata":{"n":%d}}', n % 1000, n, n, n)
  return wrk.format(nil, "/v1/user-journeys/users", nil, body)
end
