-- wrk script of `python -m bench cases --http`: every request is the same POST; responses whose
-- status is not the expected one are counted (the run is then invalid). Arguments after `--`:
-- expected status, form body, Cookie header, CSRF header name, CSRF token.
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   expected = tonumber(args[1])
   wrk.method = "POST"
   wrk.body = args[2]
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   wrk.headers["Cookie"] = args[3]
   wrk.headers[args[4]] = args[5]
   good = 0
   bad = 0
   first_bad = ""
end

function response(status, headers, body)
   if status == expected then
      good = good + 1
   else
      bad = bad + 1
      if first_bad == "" then
         first_bad = status .. " " .. string.gsub(string.sub(body or "", 1, 160), "%s", " ")
      end
   end
end

function done(summary, latency, requests)
   local ok, wrong, sample = 0, 0, ""
   for _, thread in ipairs(threads) do
      ok = ok + thread:get("good")
      wrong = wrong + thread:get("bad")
      if sample == "" then
         sample = thread:get("first_bad")
      end
   end
   local e = summary.errors
   io.write(string.format("bench.requests=%d\n", summary.requests))
   io.write(string.format("bench.duration_us=%d\n", summary.duration))
   io.write(string.format("bench.expected=%d\n", ok))
   io.write(string.format("bench.unexpected=%d\n", wrong))
   io.write(string.format("bench.socket_errors=%d\n",
                          e.connect + e.read + e.write + e.timeout))
   io.write(string.format("bench.p50_us=%d\n", latency:percentile(50.0)))
   io.write(string.format("bench.p99_us=%d\n", latency:percentile(99.0)))
   io.write(string.format("bench.first_unexpected=%s\n", sample))
end
