-- wrk script for scripts/bench_zones_http.sh: POST /api/v1/reports with places spread over the default district's zones
-- (each request gets its own description; the intake gives each a random idempotency key).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "bench-key-0123456789abcdef"
local lats = {22.715, 22.72, 22.725, 22.73, 22.735, 22.74}
local lons = {114.24, 114.25, 114.26, 114.27}
local i = 0
request = function()
  i = i + 1
  local body = string.format('{"lat": %.5f, "long": %.5f, "service_code": "road_damage", "description": "pothole %d"}',
    lats[(i % #lats) + 1] + (i % 97) * 1e-5, lons[(i % #lons) + 1] + (i % 89) * 1e-5, i)
  return wrk.format(nil, "/api/v1/reports", nil, body)
end
