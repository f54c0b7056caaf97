-- wrk script for bench/run and bench/reads. Settings, from the environment:
--
-- BENCH_METHOD   GET (default) or POST; a POST carries an empty text/plain
--                body, as navigator.sendBeacon sends.
-- BENCH_VISITORS who sends the requests:
--   none     no headers beyond wrk's own (the rankings and their ceiling)
--   repeat   one browser (a fixed Firefox User-Agent): on the beacon, every
--            request after the first is a repeat view of the same visitor,
--            running the whole beacon path but the counter
--   addr     the same browser, each request from its own client address
--            (X-Forwarded-For, the server trusting 127.0.0.1 as its proxy),
--            as new visitors do: each view is counted and flushed
--   ua       each request with its own User-Agent: new visitors whose
--            browsers are all unknown, so every request runs the bot patterns
--            (the worst case for the beacon)
--
-- Which paths, for the read benchmark (bench/reads); the URL's own path when
-- neither is set:
--
-- BENCH_PATTERN  a path with one %d, filled with a number from 1 to
--                BENCH_RANGE picked at random per request
--                (`/v1/articles/bench-%d`)
-- BENCH_PATHS    a file of paths, one a line, one picked at random per request
--
-- Either builds each request in Lua; its ceiling is built the same way, from
-- a pattern or a file of as many `/healthz?…` paths.
--
-- addr and ua build each request in Lua, which costs wrk CPU on the cores it
-- shares with the server; an endpoint is therefore always compared with the
-- ceiling driven by the same BENCH_VISITORS, so that both pay it alike.
-- done() prints one machine-readable RESULT line that bench/run parses.

local method = os.getenv("BENCH_METHOD") or "GET"
local visitors = os.getenv("BENCH_VISITORS") or "none"
local tag = os.getenv("BENCH_TAG") or "run"
local browser = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

local threads = {}
local next_id = 1

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

wrk.method = method
if method == "POST" then
   wrk.body = ""
end
if visitors ~= "none" then
   wrk.headers["Content-Type"] = "text/plain"
   wrk.headers["User-Agent"] = browser
end

if visitors == "addr" then
   -- fd00:<run>:<thread>::<n>: a distinct address per request, per thread and
   -- per wrk run (BENCH_RUN, random), so no address repeats within a server's life.
   local run = tonumber(os.getenv("BENCH_RUN") or "0")
   local counter = 0
   function request()
      counter = counter + 1
      wrk.headers["X-Forwarded-For"] = string.format("fd00:%x:%x:%x::%x:%x",
         math.floor(run / 65536) % 65536, run % 65536, id,
         math.floor(counter / 65536) % 65536, counter % 65536)
      return wrk.format()
   end
end

if visitors == "ua" then
   local counter = 0
   local prefix = nil
   function request()
      if prefix == nil then
         -- `id` is set by setup() in this thread's own Lua state.
         prefix = browser .. " Build/" .. tag .. "." .. tostring(id) .. "."
      end
      counter = counter + 1
      wrk.headers["User-Agent"] = prefix .. counter
      return wrk.format()
   end
end

local pattern = os.getenv("BENCH_PATTERN")
local range = tonumber(os.getenv("BENCH_RANGE") or "1")
local paths_file = os.getenv("BENCH_PATHS")
if (pattern or paths_file) and (visitors == "addr" or visitors == "ua") then
   error("BENCH_PATTERN and BENCH_PATHS go with BENCH_VISITORS none or repeat")
end

if pattern then
   function init(args)
      math.randomseed(os.time() * 1000 + id)
   end
   function request()
      return wrk.format(nil, string.format(pattern, math.random(1, range)))
   end
elseif paths_file then
   local paths = {}
   function init(args)
      math.randomseed(os.time() * 1000 + id)
      for line in io.lines(paths_file) do
         if line ~= "" then
            table.insert(paths, line)
         end
      end
      if #paths == 0 then
         error("no paths in " .. paths_file)
      end
   end
   function request()
      return wrk.format(nil, paths[math.random(1, #paths)])
   end
end

function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d " ..
      "status_errors=%d socket_errors=%d\n",
      summary.requests, summary.duration,
      summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(99),
      errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
