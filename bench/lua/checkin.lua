-- Check-ins for wrk (bench/engine.sh): each request posts a varied report to
-- /complyd/v1/devices/{id}/checkIn of a random device of BENCH_DEVICES (one id a line, the rest
-- of the line ignored). Requests are formatted in init(), so wrk spends its time on the wire.
-- done() prints `BENCHJSON {...}` as bench/lua/bench.lua does.

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local requests = {}

local function report()
  local r = {
    string.format('"passwordSet":%s', math.random(10) > 1 and "true" or "false"),
    string.format('"passwordLength":%d', math.random(3, 14)),
    string.format('"passwordIsSimple":%s', math.random(10) > 8 and "true" or "false"),
    string.format('"passwordMinutesOfInactivityBeforeLock":%d', math.random(1, 30)),
    string.format('"firewallEnabled":%s', math.random(10) > 1 and "true" or "false"),
    string.format('"threatLevel":"%s"', ({ "secured", "low", "medium", "high" })[math.random(4)]),
    string.format('"isEncrypted":%s', math.random(10) > 1 and "true" or "false"),
  }
  return "{" .. table.concat(r, ",") .. "}"
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
  local ids = {}
  local f = assert(io.open(os.getenv("BENCH_DEVICES"), "r"))
  for line in f:lines() do
    local id = line:match("^(%S+)")
    if id then ids[#ids + 1] = id end
  end
  f:close()
  assert(#ids > 0, "no device ids in BENCH_DEVICES")
  wrk.headers["Content-Type"] = "application/json"
  for _ = 1, 20000 do
    local id = ids[math.random(#ids)]
    requests[#requests + 1] = wrk.format("POST", "/complyd/v1/devices/" .. id .. "/checkIn", nil, report())
  end
end

function request()
  return requests[math.random(#requests)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
