-- POST a beacon body to the URL's path: /api/v1/hit (counted) or /bench/floor (the floor).
-- Both get the same bodies and headers, as beacon.js's sendBeacon sends them (text/plain JSON).
-- Env: BENCH_DIR (this folder), BENCH_SITES (comma-separated site ids; each site's domain is
-- <site>.bench.example.vn), BENCH_AGENTS (distinct User-Agents, default 2000),
-- BENCH_REQUESTS (distinct requests prepared per thread, default 4096).
-- Warm-up mode, BENCH_WARM=1: every thread walks the User-Agent list in order (each thread
-- from its own offset), so a few passes show every agent to every worker's crawler-verdict
-- cache before the measured runs (run.py stops wrk with SIGINT once enough hits are counted).
-- A User-Agent never seen before on every request: post_hit_fresh.lua.
local common = dofile((os.getenv("BENCH_DIR") or "bench") .. "/wrk_common.lua")
local sites = common.split(os.getenv("BENCH_SITES") or "bench-a")
local n_agents = tonumber(os.getenv("BENCH_AGENTS") or "2000")
local n_requests = tonumber(os.getenv("BENCH_REQUESTS") or "4096")
local warm = os.getenv("BENCH_WARM") == "1"

local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local prepared, index = {}, 0
function init(args)
  local agents = common.user_agents(n_agents)
  math.randomseed(1000 + (thread_id or 0))
  local r = function(k) return math.random(k) end
  if warm then n_requests = #agents end
  for i = 1, n_requests do
    local body, origin = common.beacon(r, sites)
    local agent = warm and agents[(i + 97 * (thread_id or 0)) % #agents + 1] or agents[r(#agents)]
    prepared[i] = wrk.format("POST", wrk.path, common.headers(origin, agent), body)
  end
end

function request()
  index = index % n_requests + 1
  return prepared[index]
end

done = common.summary
