-- wrk script for the benchmark, configured by environment variables:
--   BENCH_METHOD (GET/POST), BENCH_BODY (JSON; "{user}" is replaced by a user id from 1..BENCH_USERS),
--   BENCH_KEY (API key), BENCH_AUTHORIZATION (a whole Authorization header instead, e.g. "Bearer <feed token>"),
--   BENCH_RATE (total requests/s over BENCH_THREADS threads; 0 = as fast as possible).
-- done() prints one line "BENCH_JSON {...}" with counts and latency percentiles in microseconds.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

local method = os.getenv("BENCH_METHOD") or "GET"
local body_template = os.getenv("BENCH_BODY")
local users = tonumber(os.getenv("BENCH_USERS") or "1")
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local headers = {["Content-Type"] = "application/json"}
if os.getenv("BENCH_KEY") then headers["Authorization"] = "Api-Key " .. os.getenv("BENCH_KEY") end
local authorization = os.getenv("BENCH_AUTHORIZATION") or ""
if authorization ~= "" then headers["Authorization"] = authorization end
local counter = 0

function init(args)
  counter = math.random(0, users)
end

function request()
  counter = counter + 1
  local body = nil
  if body_template then
    body = (body_template:gsub("{user}", tostring(counter % users + 1)))
  end
  return wrk.format(method, nil, headers, body)
end

if rate > 0 then
  -- Open-loop pacing per thread: each request gets the next slot of a fixed schedule.
  local interval = threads * 1000 / rate
  local next_slot = nil
  function delay()
    local t = now_ms()
    if next_slot == nil or next_slot < t - 1000 then next_slot = t end
    local wait = next_slot - t
    next_slot = next_slot + interval
    if wait < 0 then return 0 end
    return wait
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "errors_connect": %d, "errors_read": %d, ' ..
    '"errors_write": %d, "errors_status": %d, "errors_timeout": %d, "p50_us": %d, "p95_us": %d, ' ..
    '"p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max))
end
