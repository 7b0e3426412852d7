-- Request generator for wrk, driven by environment variables (set by bench/run.sh):
--   BENCH_GET_PATHS   file of GET paths, one a line; each read picks one at random
--   BENCH_POST_PATHS  file of POST paths, one a line; each write picks one at random
--   BENCH_POST_BODY   file holding the POST body
--   BENCH_WRITE_PCT   percent of writes when both kinds are given (W5: 20)
-- Requests are formatted once in init(), so wrk spends its time on the wire, not in Lua.
-- done() prints one line `BENCHJSON {...}` with exact counts and percentiles (microseconds).

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local function read_lines(path)
  local out = {}
  if path == nil or path == "" then return out end
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    if line ~= "" then out[#out + 1] = line end
  end
  f:close()
  return out
end

local function slurp(path)
  if path == nil or path == "" then return nil end
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local gets, posts = {}, {}
local write_pct = 0

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
  local body = slurp(os.getenv("BENCH_POST_BODY"))
  for _, path in ipairs(read_lines(os.getenv("BENCH_GET_PATHS"))) do
    gets[#gets + 1] = wrk.format("GET", path)
  end
  if body ~= nil then
    wrk.headers["Content-Type"] = "application/json"
    for _, path in ipairs(read_lines(os.getenv("BENCH_POST_PATHS"))) do
      posts[#posts + 1] = wrk.format("POST", path, nil, body)
    end
  end
  write_pct = tonumber(os.getenv("BENCH_WRITE_PCT") or "") or (#gets == 0 and 100 or 0)
  assert(#gets + #posts > 0, "no requests: set BENCH_GET_PATHS or BENCH_POST_PATHS")
end

function request()
  if #posts > 0 and (#gets == 0 or math.random(100) <= write_pct) then
    return posts[math.random(#posts)]
  end
  return gets[math.random(#gets)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
