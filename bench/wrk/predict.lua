-- POST one body per request, each made unique, and report the run as one JSON line.
-- wrk -s bench/wrk/predict.lua URL -- BODIES_FILE CONTENT_TYPE [PAUSE_MS]
-- BODIES_FILE: one request body per line, "before<TAB>after"; a per-request marker (letters and
-- digits only) goes between, so no two requests send the same text and nothing can be cached.
-- PAUSE_MS: each connection waits this long before each request (a paced load, not as fast as
-- the server answers); without it requests follow each other at once.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

function init(args)
   bodies = {}
   for line in io.lines(args[1]) do
      local before, after = line:match("^(.-)\t(.*)$")
      table.insert(bodies, { before, after })
   end
   assert(#bodies > 0, "no bodies in " .. args[1])
   wrk.method = "POST"
   wrk.headers["Content-Type"] = args[2]
   sent, ok, other = 0, 0, 0
   -- wrk looks for delay() after init, so defining it here paces only the runs that ask for it.
   local pause = tonumber(args[3])
   if pause and pause > 0 then
      delay = function()
         return pause
      end
   end
end

function request()
   sent = sent + 1
   local body = bodies[(sent + tid * 7919) % #bodies + 1]
   return wrk.format(nil, nil, nil, body[1] .. "w" .. tid .. "n" .. sent .. body[2])
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local sent_total, ok_total, other_total = 0, 0, 0
   for _, thread in ipairs(threads) do
      sent_total = sent_total + thread:get("sent")
      ok_total = ok_total + thread:get("ok")
      other_total = other_total + thread:get("other")
   end
   local e = summary.errors
   io.write(string.format(
      'wrk-result {"duration_us": %d, "requests": %d, "bytes": %d, "sent": %d, "ok_2xx": %d, '
         .. '"other_status": %d, "errors": {"connect": %d, "read": %d, "write": %d, '
         .. '"status": %d, "timeout": %d}, "latency_us": {"min": %d, "mean": %.1f, '
         .. '"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}}\n',
      summary.duration, summary.requests, summary.bytes, sent_total, ok_total, other_total,
      e.connect, e.read, e.write, e.status, e.timeout, latency.min, latency.mean,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max))
end
