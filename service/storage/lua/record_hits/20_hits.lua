-- Each hit in turn: presence, the visitor's visit and minute cap, the address cap, its page.

local sessions = {}        -- session key -> {last, minute, in_minute, existed, advanced}
local addresses = {}       -- address key -> {hits before this batch, hits now}
local outcomes = {}
local seen = {}            -- ZADD arguments: score, member, score, member...
local visitors = {}        -- PFADD arguments
local newest, pageviews, visits = 0, 0, 0
local page_views = {}      -- page -> views in this batch
local page_titles = {}     -- page -> the newest title sent
local page_links = {}      -- page -> the newest spelling of its path, when it differs
local page_order = {}      -- pages in the order first seen
local over_cap = 0
local visit_hits = {}  -- indexes of the hits that began a visit (what per-visit breakdowns count)

-- One counted pageview of a page (whether the day has room for the page is decided after the loop).
local function count_page(page, title, link)
  if page == '' then
    return
  end
  local views = page_views[page]
  if views == nil then
    page_order[#page_order + 1] = page
    views = 0
  end
  page_views[page] = views + 1
  if title ~= '' then
    page_titles[page] = title
  end
  if link ~= '' then
    page_links[page] = link
  end
end

-- Past PAGES_PER_DAY distinct pages a day, a page new to the day counts for the site only: in
-- the order first seen, pages the day has already counted stay, new ones while there is room.
-- Only a batch that could reach the cap asks which of its pages the day has (most never do).
local function apply_page_cap()
  local page_cap, pages_today = tonumber(A.pages_per_day), redis.call('ZCARD', K.pages)
  if pages_today + #page_order <= page_cap then
    return
  end
  local known = {}
  for _, scores in ipairs(in_chunks('ZMSCORE', K.pages, nil, page_order)) do
    for _, score in ipairs(scores) do
      known[#known + 1] = score
    end
  end
  local kept = {}
  for j, page in ipairs(page_order) do
    if known[j] or pages_today < page_cap then
      if not known[j] then
        pages_today = pages_today + 1
      end
      kept[#kept + 1] = page
    else
      over_cap = over_cap + page_views[page]
    end
  end
  page_order = kept
end

local stored_sessions = {}  -- session key -> its value, or false: read below, in one MGET per CHUNK keys

local function session_of(key)
  local state = sessions[key]
  if state == nil then
    local raw = stored_sessions[key]
    state = {last = 0, minute = -1, in_minute = 0, existed = raw ~= false, advanced = false, dirty = false}
    if raw then
      -- An older version wrote only "<last hit ms>".
      local a, m, n = string.match(raw, '^(%d+):?(%d*):?(%d*)$')
      state.last, state.minute, state.in_minute = tonumber(a) or 0, tonumber(m) or -1, tonumber(n) or 0
    end
    sessions[key] = state
  end
  return state
end

-- Tell whether one more hit from an address goes past its per-minute limit.
local function address_flooding(key)
  local state = addresses[key]
  if state == nil then
    local raw = redis.call('GET', key)
    local before = tonumber(raw or '0')
    if before == nil then
      return redis.error_reply('WRONGTYPE ' .. key .. ' is not a counter')
    end
    state = {before = before, now = before}
    addresses[key] = state
  end
  state.now = state.now + 1
  return state.now > address_cap
end

-- One pageview of a visitor: slide the visit, cap a visitor refreshing too fast.
local function count(state, visitor, now)
  local minute = math.floor(now / 60000)
  if minute == state.minute then
    if state.in_minute >= cap then
      return 'rate_limited'
    end
    state.in_minute = state.in_minute + 1
  elseif minute > state.minute then
    state.minute, state.in_minute = minute, 1
  end  -- an older minute: a late hit replayed from a buffer, not capped

  state.dirty = true
  local new_visit = (not state.existed) or (now - state.last >= timeout)
  state.existed = true
  if now > state.last then
    state.last, state.advanced = now, true
  end
  pageviews = pageviews + 1
  visitors[#visitors + 1] = visitor
  if new_visit then
    visits = visits + 1
    return 'visit'
  end
  return 'pageview'
end

-- Columns, not one array per hit: a few tables however many hits there are.
local hits = cmsgpack.unpack(A.hits)
local hit_visitor, hit_at, hit_kind = hits.visitor, hits.at, hits.kind
local hit_count = #hit_at

-- The sessions of the batch's pageviews, read at once (a GET each cost a script call per hit). MGET
-- reads a key of another type as missing: that session starts afresh and its SET below replaces it.
do
  local names = {}
  for i = 1, hit_count do
    if hit_kind[i] ~= 'ping' then
      names[#names + 1] = KEYS[PER_HIT_KEYS + i]
    end
  end
  for first = 1, #names, CHUNK do
    local last = math.min(first + CHUNK - 1, #names)
    local values = redis.call('MGET', unpack(names, first, last))
    for j = first, last do
      stored_sessions[names[j]] = values[j - first + 1]
    end
  end
end
for i = 1, hit_count do
  local visitor, now, kind = hit_visitor[i], hit_at[i], hit_kind[i]
  local outcome
  local flooding = false
  if address_cap > 0 then
    flooding = address_flooding(KEYS[PER_HIT_KEYS + hit_count + i])
    if type(flooding) == 'table' then
      return flooding  -- an error reply, before any write
    end
  end
  if flooding then
    outcome = 'ip_limited'
  else
    -- Presence: the newest time seen counts (ZADD GT, below), pings included.
    seen[#seen + 1] = now
    seen[#seen + 1] = visitor
    if now > newest then
      newest = now
    end
    if kind == 'ping' then
      outcome = 'ping'
    else
      outcome = count(session_of(KEYS[PER_HIT_KEYS + i]), visitor, now)
      if outcome == 'visit' then
        visit_hits[#visit_hits + 1] = i
      end
      if outcome ~= 'rate_limited' then
        count_page(hits.page[i], hits.title[i], hits.link[i])
      end
    end
  end
  outcomes[#outcomes + 1] = outcome
end
apply_page_cap()
