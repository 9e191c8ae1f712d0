-- wrk script of benches/serve.py: POST /api/v1/runs with the token in
-- $BENCH_TOKEN; counts 201s and other statuses over all threads and prints
-- one `BENCH {json}` line.
wrk.method = "POST"
wrk.body = '{"runbook": "noop"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) created = 0; other = 0 end
function response(status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); o = o + t:get("other") end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"created":%d,"other":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
    .. '"max_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, c, o, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
