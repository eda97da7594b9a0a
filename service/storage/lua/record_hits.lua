#!lua
-- The shebang (Redis >= 7.0, Valkey) declares a writing script: Redis refuses it before it
-- runs when it is out of memory or a read-only replica, so a batch is never half applied.
--
-- Count a batch of hits of ONE site on ONE local day, atomically and at most once.
-- Every key is passed in KEYS (built by service/keys.py), the per-hit ones too, although they
-- share the site's {site} hash tag (so its slot) and could be built here from a prefix: Redis's
-- EVAL docs ask for every key a script touches to be declared, Cluster routes the call and
-- checks a slot being migrated by the declared keys, and ACL key patterns and servers that
-- lock keys by KEYS rely on them too.
--
-- KEYS[1] batch marker (set last; a replayed batch finds it and changes nothing)
-- KEYS[2] the site's settings hash (gone: the site was removed, nothing is written)
-- KEYS[3] online zset (visitor -> last seen ms)   KEYS[4] history hash of the day's month
-- KEYS[5] the day's visitors HyperLogLog          KEYS[6] all-time totals hash
-- KEYS[7] the day's page views zset               KEYS[8] the day before's (trimmed, once past)
-- KEYS[9] all-time page views zset                KEYS[10] page titles hash
-- KEYS[11] the day's not-counted hash (reason -> hits)   KEYS[12] page links hash
-- then, for the n hits of ARGV[14], hit i (1-based):
--   KEYS[12 + i] visitor's session: "<last hit ms>:<minute>:<hits in that minute>"
--   KEYS[12 + n + i] the client address's hits in this minute (address hashed like visitors),
--   passed only when ARGV[5] sets a per-address limit
-- ARGV[1] online window (ms)   ARGV[2] visit timeout (ms)   ARGV[3] hits a minute one visitor may send
-- ARGV[4] batch marker lifetime (s)   ARGV[5] hits a minute one address may send (0: no limit)
-- ARGV[6] day visits field   ARGV[7] day pageviews field   ARGV[8] day visitors field
-- ARGV[9] seconds the day's visitor set must still live
-- ARGV[10] most distinct pages a day counts per page   ARGV[11] seconds the day's page views must live
-- ARGV[12] top pages a past day keeps   ARGV[13] seconds the day's not-counted hash must live
-- ARGV[14] the hits, MessagePack (store.pack_hits): an array of columns, each one value per hit:
--   visitor ids, hit times (unix ms, the service's clock), kinds ('pageview' or 'ping'), pages
--   ('' for none), titles ('' for none), the pages' paths as the portal spells them ('' when
--   that is the page itself)
-- Returns 'duplicate', 'unknown_site', or {outcomes, pages over the cap}: one outcome per hit,
-- 'visit' (a new visit began), 'pageview', 'ping', 'rate_limited' (one visitor refreshing too
-- fast) or 'ip_limited' (one address flooding); then how many counted pageviews went to pages
-- new to a day already at its cap (counted for the site, not per page). A key of the wrong
-- type is an error reply raised before any write.
--
-- Two phases: every read and check first (sessions and address counters are read once and
-- then followed in Lua tables), every write after, with commands that cannot fail on keys
-- already checked. Lifetimes are relative (PX, EXPIRE), measured from the hit: the service's
-- clock picks the period, and a Redis whose clock disagrees never drops a key early.

-- Phase 1: reads and checks. ---------------------------------------------------------------

if redis.call('EXISTS', KEYS[1]) == 1 then
  return 'duplicate'
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return 'unknown_site'
end

local online, month, day_visitors, total = KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local function expect_type(key, wanted)
  local found = redis.call('TYPE', key)['ok']
  if found ~= 'none' and found ~= wanted then
    return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. found .. ', not a ' .. wanted)
  end
end
local pages_day, pages_before, pages_all, titles = KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local not_counted, links = KEYS[11], KEYS[12]
for _, check in ipairs({{online, 'zset'}, {month, 'hash'}, {day_visitors, 'string'}, {total, 'hash'},
                        {pages_day, 'zset'}, {pages_before, 'zset'}, {pages_all, 'zset'}, {titles, 'hash'},
                        {not_counted, 'hash'}, {links, 'hash'}}) do
  local problem = expect_type(check[1], check[2])
  if problem then
    return problem
  end
end
if redis.call('EXISTS', day_visitors) == 1 then
  redis.call('PFCOUNT', day_visitors)  -- errors now, not mid-write, if it is not a HyperLogLog
end

local window, timeout, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local address_cap = tonumber(ARGV[5])
local CHUNK = 500  -- arguments per variadic call, well under Lua's stack limit (even: pairs stay whole)

-- One variadic command (with an optional flag before the arguments) over ``args``, CHUNK at a
-- time; its replies, one per chunk.
local function in_chunks(command, key, flag, args)
  local replies = {}
  for first = 1, #args, CHUNK do
    local last = math.min(first + CHUNK - 1, #args)
    if flag then
      replies[#replies + 1] = redis.call(command, key, flag, unpack(args, first, last))
    else
      replies[#replies + 1] = redis.call(command, key, unpack(args, first, last))
    end
  end
  return replies
end

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
  local page_cap, pages_today = tonumber(ARGV[10]), redis.call('ZCARD', pages_day)
  if pages_today + #page_order <= page_cap then
    return
  end
  local known = {}
  for _, scores in ipairs(in_chunks('ZMSCORE', pages_day, nil, page_order)) do
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

local function session_of(key)
  local state = sessions[key]
  if state == nil then
    local raw = redis.call('GET', key)  -- WRONGTYPE here is still before any write
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

-- Columns, not one array per hit: unpacked into 6 tables however many hits there are.
local hit_visitor, hit_at, hit_kind, hit_page, hit_title, hit_link = unpack(cmsgpack.unpack(ARGV[14]))
local hit_count = #hit_at
for i = 1, hit_count do
  local visitor, now, kind = hit_visitor[i], hit_at[i], hit_kind[i]
  local outcome
  local flooding = false
  if address_cap > 0 then
    flooding = address_flooding(KEYS[12 + hit_count + i])
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
      outcome = count(session_of(KEYS[12 + i]), visitor, now)
      if outcome ~= 'rate_limited' then
        count_page(hit_page[i], hit_title[i], hit_link[i])
      end
    end
  end
  outcomes[#outcomes + 1] = outcome
end
apply_page_cap()

-- Phase 2: writes. -------------------------------------------------------------------------

for key, state in pairs(sessions) do
  local value = string.format('%d:%d:%d', state.last, state.minute, state.in_minute)
  if state.advanced then
    redis.call('SET', key, value, 'PX', timeout)
  elseif state.dirty then
    redis.call('SET', key, value, 'KEEPTTL')
  end
end
for key, state in pairs(addresses) do
  if state.before == 0 then
    redis.call('SET', key, state.now, 'EX', 120)
  else
    redis.call('INCRBY', key, state.now - state.before)
  end
end

in_chunks('ZADD', online, 'GT', seen)
if newest > 0 then
  -- Drop members that left the window; the set lives one window past the newest hit.
  redis.call('ZREMRANGEBYSCORE', online, '-inf', '(' .. (newest - window))
  redis.call('PEXPIRE', online, window)
end

if pageviews > 0 then
  redis.call('HINCRBY', month, ARGV[7], pageviews)
  redis.call('HINCRBY', total, 'pageviews', pageviews)
end
if visits > 0 then
  redis.call('HINCRBY', month, ARGV[6], visits)
  redis.call('HINCRBY', total, 'visits', visits)
end

-- Visitors: the day's estimate is copied into history; the total grows by the difference.
local grew = 0
for _, changed in ipairs(in_chunks('PFADD', day_visitors, nil, visitors)) do
  grew = grew + changed
end
if grew > 0 then
  redis.call('EXPIRE', day_visitors, ARGV[9], 'NX')
  local estimate = redis.call('PFCOUNT', day_visitors)
  local before = tonumber(redis.call('HGET', month, ARGV[8]) or '0')
  if estimate > before then
    redis.call('HSET', month, ARGV[8], estimate)
    redis.call('HINCRBY', total, 'visitors', estimate - before)
  end
end

-- Pages: the day's views and all time (the baseline is folded into all time), the titles and
-- spellings (one HSET for all pages).
local title_fields, link_fields = {}, {}  -- HSET arguments: page, value, page, value...
local function add_field(fields, page, value)
  if value then
    fields[#fields + 1] = page
    fields[#fields + 1] = value
  end
end
for _, page in ipairs(page_order) do
  redis.call('ZINCRBY', pages_day, page_views[page], page)
  redis.call('ZINCRBY', pages_all, page_views[page], page)
  add_field(title_fields, page, page_titles[page])
  add_field(link_fields, page, page_links[page])
end
in_chunks('HSET', titles, nil, title_fields)
in_chunks('HSET', links, nil, link_fields)
if #page_order > 0 then
  redis.call('EXPIRE', pages_day, ARGV[11], 'NX')
  -- A past day only answers top lists: keep its top entries, drop the long tail. Copied into
  -- a fresh set (ZRANGESTORE onto itself), since a set trimmed in place keeps its big hash
  -- table (about 130 KiB a day at 10,000 pages, bench/pages.py); its lifetime is kept.
  local keep = tonumber(ARGV[12])
  if redis.call('ZCARD', pages_before) > keep then
    local lifetime = redis.call('PTTL', pages_before)
    redis.call('ZRANGESTORE', pages_before, pages_before, 0, keep - 1, 'REV')
    if lifetime > 0 then
      redis.call('PEXPIRE', pages_before, lifetime)
    end
  end
end

-- What the caps turned away, for the dashboard's "not counted and why".
local limited = {}
for _, outcome in ipairs(outcomes) do
  if outcome == 'rate_limited' or outcome == 'ip_limited' then
    limited[outcome] = (limited[outcome] or 0) + 1
  end
end
for reason, hits in pairs(limited) do
  redis.call('HINCRBY', not_counted, reason, hits)
  redis.call('EXPIRE', not_counted, ARGV[13], 'NX')
end

redis.call('SET', KEYS[1], 1, 'EX', ARGV[4])
return {outcomes, over_cap}
