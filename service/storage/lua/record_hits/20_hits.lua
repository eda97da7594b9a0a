-- Each hit in turn: presence, the visitor's visit and minute cap, the address cap, its page.

-- The call's, not a group's: a reader's session is their site's, whatever the day.
local sessions = {}        -- session key -> {last, minute, in_minute, existed, advanced, dirty}
local addresses = {}       -- address key -> {hits before this call, hits now}
local stored_sessions = {} -- session key -> its value, or false: read below, in one MGET per CHUNK keys

-- The sessions of the call's pageviews, read at once (a GET each cost a script call per hit). MGET
-- reads a key of another type as missing: that session starts afresh and its SET replaces it.
do
  local names = {}
  for i = 1, hit_total do
    if hits.kind[i] ~= 'ping' then
      names[#names + 1] = KEYS[HIT_KEYS + i]
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

local function session_of(key)
  local state = sessions[key]
  if state == nil then
    local raw = stored_sessions[key]
    state = {last = 0, minute = -1, in_minute = 0, existed = raw ~= false and raw ~= nil, advanced = false, dirty = false}
    if raw then
      -- An older version wrote only "<last hit ms>".
      local a, m, n = string.match(raw, '^(%d+):?(%d*):?(%d*)$')
      state.last, state.minute, state.in_minute = tonumber(a) or 0, tonumber(m) or -1, tonumber(n) or 0
    end
    sessions[key] = state
  end
  return state
end

-- Tell whether one more hit from an address goes past its per-minute limit (or an error reply).
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

-- One counted pageview of a page (whether the day has room for the page: the pages writer, 40_pages).
local function count_page(G, page, title, link)
  if page == '' then
    return
  end
  local views = G.page_views[page]
  if views == nil then
    G.page_order[#G.page_order + 1] = page
    views = 0
  end
  G.page_views[page] = views + 1
  if title ~= '' then
    G.page_titles[page] = title
  end
  if link ~= '' then
    G.page_links[page] = link
  end
end

-- One pageview of a visitor: slide the visit, cap a visitor refreshing too fast.
local function count(G, state, visitor, now)
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
  G.pageviews = G.pageviews + 1
  G.visitors[#G.visitors + 1] = visitor
  if new_visit then
    G.visits = G.visits + 1
    return 'visit'
  end
  return 'pageview'
end

-- A group's hits, in order: their outcomes, and what its writers will write. An error reply for an
-- address counter of the wrong type.
local function count_group(G)
  G.outcomes, G.seen, G.visitors, G.visit_hits = {}, {}, {}, {}  -- seen: ZADD score, member...; visitors: PFADD
  G.page_views, G.page_titles, G.page_links, G.page_order = {}, {}, {}, {}  -- page -> views, newest title, spelling
  G.newest, G.pageviews, G.visits, G.over_cap, G.pushed_out = 0, 0, 0, 0, 0
  local visitor_of, at_of, kind_of = hits.visitor, hits.at, hits.kind
  for i = G.first + 1, G.first + G.count do
    local visitor, now, kind = visitor_of[i], at_of[i], kind_of[i]
    local outcome
    local flooding = false
    if address_cap > 0 then
      flooding = address_flooding(KEYS[HIT_KEYS + hit_total + i])
      if type(flooding) == 'table' then
        return flooding  -- an error reply, before any write
      end
    end
    if flooding then
      outcome = 'ip_limited'
    else
      -- Presence: the newest time seen counts (ZADD GT, in 30_counters), pings included.
      G.seen[#G.seen + 1] = now
      G.seen[#G.seen + 1] = visitor
      if now > G.newest then
        G.newest = now
      end
      if kind == 'ping' then
        outcome = 'ping'
      else
        outcome = count(G, session_of(KEYS[HIT_KEYS + i]), visitor, now)
        if outcome == 'visit' then
          G.visit_hits[#G.visit_hits + 1] = i
        end
        if outcome ~= 'rate_limited' then
          count_page(G, hits.page[i], hits.title[i], hits.link[i])
        end
      end
    end
    G.outcomes[#G.outcomes + 1] = outcome
  end
  return nil
end
