-- Like post_hit.lua, but every request carries a User-Agent no worker has seen before: one of
-- the pooled browser agents with a unique in-app token appended (as Zalo's WebView adds its
-- build), so every hit is also a new visitor. BENCH_AGENT_CHARS (default 0: as built) pads
-- each agent with Facebook-WebView-like fields to exactly that many characters (1024: the
-- "1 KiB agent" run). Env otherwise as post_hit.lua (BENCH_DIR, BENCH_SITES, BENCH_AGENTS).
local common = dofile((os.getenv("BENCH_DIR") or "bench") .. "/wrk_common.lua")
local sites = common.split(os.getenv("BENCH_SITES") or "bench-a")
local n_agents = tonumber(os.getenv("BENCH_AGENTS") or "2000")
local chars = tonumber(os.getenv("BENCH_AGENT_CHARS") or "0")
local n_bodies = 4096

local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local agents, bodies, origins, index, counter = nil, {}, {}, 0, 0
local padding = string.rep(";FBLC/vi_VN;FBOP/1;FBRV/0;FBSS/3;FBID/phone", 40)
function init(args)
  agents = common.user_agents(n_agents)
  math.randomseed(2000 + (thread_id or 0))
  local r = function(k) return math.random(k) end
  for i = 1, n_bodies do bodies[i], origins[i] = common.beacon(r, sites) end
end

function request()
  index = index % n_bodies + 1
  counter = counter + 1
  local agent = string.format("%s Zalo android/%d%09d ZaloTheme/light", agents[index % #agents + 1],
                              (thread_id or 0) + 1, counter)
  if chars > #agent then
    agent = (agent .. " [FBAN/FB4A" .. padding):sub(1, chars)
  end
  return wrk.format("POST", wrk.path, common.headers(origins[index], agent), bodies[index])
end

done = common.summary
