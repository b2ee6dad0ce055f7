-- wrk script of the gateway benchmark (bench/run).
--
--   wrk ... -s bench/wrk.lua URL [-- BODY_FILE]
--
-- With BODY_FILE every request is a POST of that file's bytes (method and headers such as
-- Content-Type and Authorization come from wrk's -H options); without it, a plain GET.
-- done() prints one machine-readable line that bench/wrkstats.py parses:
--   BENCH_RESULT requests=N duration_us=N p50_us=N p90_us=N p99_us=N max_us=N
--                connect=N read=N write=N timeout=N status=N
-- (status counts responses with a status >= 400, wrk's "Non-2xx or 3xx responses").

local req = nil

function init(args)
   local path = args[1]
   if path ~= nil and path ~= "" then
      local file = assert(io.open(path, "rb"))
      wrk.body = file:read("*a")
      file:close()
      wrk.method = "POST"
   end
   -- Built once per thread: the request is the same every time.
   req = wrk.format()
end

function request()
   return req
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d "
         .. "connect=%d read=%d write=%d timeout=%d status=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.timeout, e.status))
end
