-- GET /api/v1/sites/<site>/counters, as the widget polls it, round-robin over BENCH_SITES.
-- No If-None-Match: every poll gets the full JSON (the worst case for the server).
local common = dofile((os.getenv("BENCH_DIR") or "bench") .. "/wrk_common.lua")
local sites = common.split(os.getenv("BENCH_SITES") or "bench-a")

local prepared, index = {}, 0
function init(args)
  local agents = common.user_agents(64)
  for i, site in ipairs(sites) do
    prepared[i] = wrk.format("GET", "/api/v1/sites/" .. site .. "/counters", {
      ["User-Agent"] = agents[i % #agents + 1],
      ["Origin"] = "https://" .. site .. ".bench.example.vn",
      ["Accept"] = "*/*",
    })
  end
end

function request()
  index = index % #prepared + 1
  return prepared[index]
end

done = common.summary
