-- wrk script: Open311 POSTs spread over the district, each with its own idempotency key.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  key = os.getenv("CITYBRAIN_BENCH_KEY") or "bench-key-0123456789abcdef"
  codes = {"street_vending", "illegal_parking", "exposed_rubbish", "noise", "waterlogging", "road_damage"}
end

function request()
  counter = counter + 1
  local lat = 22.68 + (counter * 7919 % 10000) / 100000.0
  local lon = 114.20 + (counter * 104729 % 10000) / 100000.0
  local body = string.format("api_key=%s&service_code=%s&lat=%.6f&long=%.6f&description=bench", key,
    codes[counter % 6 + 1], lat, lon)
  return wrk.format("POST", "/open311/v2/requests.json",
    {["Content-Type"] = "application/x-www-form-urlencoded", ["Idempotency-Key"] = string.format("w%d-%d", tid, counter)},
    body)
end
