-- Shared by the bench/*.lua wrk scripts: realistic User-Agents and a JSON summary for run.py.
-- Loaded with dofile(BENCH_DIR .. "/wrk_common.lua"); every wrk thread has its own Lua state.
local M = {}

function M.split(text)
  local out = {}
  for item in string.gmatch(text or "", "[^,]+") do out[#out + 1] = item end
  return out
end

local DEVICES = {
  "SM-A525F", "SM-G991B", "SM-A515F", "SM-A146P", "Redmi Note 8", "Redmi Note 11", "M2101K6G",
  "CPH2239", "CPH2185", "vivo 1906", "V2027", "Pixel 7", "Pixel 6a", "RMX3363", "2201117TG", "TECNO KG5",
}
local MAC_OS = { "10_15_7", "14_4_1", "13_6_3", "12_7_4" }
local WINDOWS = { "Windows NT 10.0; Win64; x64", "Windows NT 6.1; Win64; x64", "Windows NT 10.0; WOW64" }

-- Desktop and mobile browsers seen on Vietnamese portals (Chrome, Coc Coc, Edge, Firefox,
-- Safari, Samsung Internet, iOS and Android in-app webviews), with varied versions.
local TEMPLATES = {
  function(r) return string.format("Mozilla/5.0 (%s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36",
    WINDOWS[r(#WINDOWS)], 100 + r(26), 5000 + r(1400), r(200)) end,
  function(r) return string.format("Mozilla/5.0 (Macintosh; Intel Mac OS X %s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36",
    MAC_OS[r(#MAC_OS)], 100 + r(26), 5000 + r(1400), r(200)) end,
  function(r) local v = 100 + r(26) return string.format("Mozilla/5.0 (%s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36 Edg/%d.0.%d.%d",
    WINDOWS[r(#WINDOWS)], v, v, 1000 + r(1400), r(120)) end,
  function(r) local v = 100 + r(26) return string.format("Mozilla/5.0 (%s) AppleWebKit/537.36 (KHTML, like Gecko) coc_coc_browser/%d.%d.%d Chrome/%d.0.%d.%d Safari/537.36",
    WINDOWS[r(#WINDOWS)], 100 + r(30), r(9), r(200), v, 5000 + r(1400), r(200)) end,
  function(r) local v = 100 + r(30) return string.format("Mozilla/5.0 (%s; rv:%d.0) Gecko/20100101 Firefox/%d.0", WINDOWS[r(#WINDOWS)], v, v) end,
  function(r) local v = 100 + r(30) return string.format("Mozilla/5.0 (X11; Linux x86_64; rv:%d.0) Gecko/20100101 Firefox/%d.0", v, v) end,
  function(r) return string.format("Mozilla/5.0 (Macintosh; Intel Mac OS X %s) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%d.%d Safari/605.1.15",
    MAC_OS[r(#MAC_OS)], 14 + r(4), r(6)) end,
  function(r) local major = 14 + r(4) return string.format("Mozilla/5.0 (iPhone; CPU iPhone OS %d_%d like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%d.%d Mobile/15E148 Safari/604.1",
    major, r(7), major, r(6)) end,
  function(r) return string.format("Mozilla/5.0 (iPhone; CPU iPhone OS %d_%d like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/%d.0.%d.%d Mobile/15E148 Safari/604.1",
    15 + r(3), r(6), 110 + r(16), 5000 + r(1400), r(200)) end,
  function(r) return string.format("Mozilla/5.0 (Linux; Android %d; %s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Mobile Safari/537.36",
    9 + r(6), DEVICES[r(#DEVICES)], 100 + r(26), 5000 + r(1400), r(200)) end,
  function(r) return string.format("Mozilla/5.0 (Linux; Android %d; %s) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/%d.0 Chrome/%d.0.0.0 Mobile Safari/537.36",
    10 + r(5), DEVICES[r(4)], 18 + r(8), 100 + r(26)) end,
  function(r) return string.format("Mozilla/5.0 (Linux; Android %d; %s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Mobile Safari/537.36 coc_coc_browser/%d.%d.%d",
    9 + r(6), DEVICES[r(#DEVICES)], 100 + r(26), 5000 + r(1400), r(200), 100 + r(30), r(9), r(200)) end,
}

-- n distinct User-Agents, the same list in every thread (seeded), so threads share visitors.
function M.user_agents(n)
  math.randomseed(42)
  local r = function(k) return math.random(k) end
  local seen, out, tries = {}, {}, 0
  while #out < n and tries < n * 50 do
    tries = tries + 1
    local agent = TEMPLATES[r(#TEMPLATES)](r)
    if not seen[agent] then
      seen[agent] = true
      out[#out + 1] = agent
    end
  end
  return out
end

local PATHS = { "/", "/tin-tuc", "/tin-tuc/thoi-su", "/thong-bao", "/van-ban-phap-luat", "/lien-he",
                "/gioi-thieu", "/thu-tuc-hanh-chinh", "/tin-tuc/kinh-te", "/ket-qua-thi" }
local TITLE_WORDS = { "Tỉnh", "triển khai", "kế hoạch", "năm học", "thông báo", "kết quả", "kỳ thi",
                      "tuyển sinh", "lớp 10", "chuyển đổi số", "hội nghị", "cải cách", "hành chính" }
-- A page of the site: one of 10 section pages, or (two hits in three) one of 30,000 articles
-- ranked Zipf-like as news traffic is (rank drawn log-uniformly: the ten most read take about a
-- quarter of the article views, a long tail the rest), each under its section.
local ARTICLES = 30000
function M.page_path(r)
  if r(3) == 1 then return PATHS[r(#PATHS)], nil end
  local article = math.floor(math.exp(math.random() * math.log(ARTICLES + 1)))
  return PATHS[article % #PATHS + 1] .. "/bai-viet-" .. article .. ".html", article
end

-- document.title as beacon.js sends it: a Vietnamese headline fixed per article.
local function title_of(path, article)
  if not article then return "Cổng thông tin điện tử" end
  local words, n = {}, article
  for i = 1, 6 do
    words[i] = TITLE_WORDS[n % #TITLE_WORDS + 1]
    n = math.floor(n / 3) + i
  end
  return table.concat(words, " ") .. " (" .. article .. ")"
end

-- One beacon request's body and headers, as beacon.js sends them with sendBeacon (text/plain
-- JSON, the page's title included), for a random site of `sites` (each site's domain is
-- <site>.bench.example.vn).
function M.beacon(r, sites)
  local site = sites[r(#sites)]
  local origin = "https://" .. site .. ".bench.example.vn"
  local path, article = M.page_path(r)
  local referrer = ""
  if r(10) <= 3 then referrer = ',"referrer":"https://www.google.com/"' end
  local body = string.format('{"site":"%s","url":"%s%s"%s,"title":"%s"}', site, origin, path, referrer,
                             title_of(path, article))
  return body, origin
end

function M.headers(origin, agent)
  return {
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["User-Agent"] = agent,
    ["Origin"] = origin,
    ["Accept"] = "*/*",
    ["Accept-Language"] = "vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7",
    ["Referer"] = origin .. "/",
  }
end

-- done(): one line run.py parses (wrk prints its own report too).
function M.summary(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end

return M
