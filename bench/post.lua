-- wrk script: send the request bodies (or GET paths) listed in a file, one per line, in turn.
--   BENCH_BODIES  file of JSON bodies for POST (or BENCH_PATHS: file of paths for GET)
--   BENCH_AUTH    optional Authorization header value
--   BENCH_UNIQUE  optional: a run id put in front of every "messageId" value, with the request's
--                 number, so no message repeats one sent before (every one is applied)
--   BENCH_LIMIT   optional: stop after this many responses (the tiny mode), then create the
--                 file BENCH_DONE so the caller can end wrk's fixed duration with SIGINT
-- done() prints one line "BENCH_RESULT {json}" with counts and latency percentiles (µs).

local items = {}
local method = "POST"
local source = os.getenv("BENCH_BODIES")
if source == nil or source == "" then
  source = os.getenv("BENCH_PATHS")
  method = "GET"
end
for line in io.lines(source) do
  if line ~= "" then items[#items + 1] = line end
end
local headers = {}
if method == "POST" then headers["Content-Type"] = "application/json" end
local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then headers["Authorization"] = auth end

local unique = os.getenv("BENCH_UNIQUE")
if unique == "" then unique = nil end
local i, sent = 0, 0
request = function()
  i = i % #items + 1
  if method == "POST" then
    local body = items[i]
    if unique ~= nil then
      sent = sent + 1
      body = body:gsub('"messageId":"', '"messageId":"' .. unique .. "-" .. sent .. "-")
    end
    return wrk.format("POST", nil, headers, body)
  end
  return wrk.format("GET", items[i], headers, nil)
end

local limit = tonumber(os.getenv("BENCH_LIMIT") or "")
if limit ~= nil then
  local seen = 0
  response = function(status, hdrs, body)
    seen = seen + 1
    if seen == limit then
      wrk.thread:stop()
      local marker = os.getenv("BENCH_DONE")
      if marker ~= nil and marker ~= "" then io.open(marker, "w"):close() end
    end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "errors": '
      .. '{"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
