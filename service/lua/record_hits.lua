-- Count a batch of hits of ONE site on ONE local day, atomically and at most once.
-- Every key is passed in KEYS (built by service/keys.py), so the script runs on Redis Cluster.
--
-- KEYS[1] batch marker (set once; a replayed batch finds it and changes nothing)
-- KEYS[2] online zset (visitor -> last seen ms)   KEYS[3] history hash of the day's month
-- KEYS[4] the day's visitors HyperLogLog          KEYS[5] all-time totals hash
-- then for hit i (0-based), at k = 5 + 2*i:
--   KEYS[k+1] visitor's session: "<last hit ms>:<minute>:<hits in that minute>"
--   KEYS[k+2] the client address's hits in this minute (address hashed like visitors)
-- ARGV[1] online window (ms)   ARGV[2] visit timeout (ms)   ARGV[3] hits a minute one visitor may send
-- ARGV[4] batch marker lifetime (s)   ARGV[5] hits a minute one address may send (0: no limit)
-- ARGV[6] day visits field   ARGV[7] day pageviews field   ARGV[8] day visitors field
-- ARGV[9] seconds the day's visitor set must still live
-- then for hit i, at a = 9 + 3*i:
--   ARGV[a+1] visitor id   ARGV[a+2] hit time (unix ms, the service's clock)   ARGV[a+3] 'pageview' or 'ping'
-- Returns 'duplicate', or one outcome per hit: 'visit' (a new visit began), 'pageview',
-- 'ping', 'rate_limited' (one visitor refreshing too fast) or 'ip_limited' (one address flooding).
--
-- Per hit it runs GET and SET of the session (and INCR of the address counter when that
-- limit is on); the shared keys are written once per call, with the batch's sums.
-- Lifetimes are relative (EXPIRE, PX), measured from the hit: the service's clock picks the
-- period, and a Redis whose clock disagrees (or a hit replayed late) never drops a key early.

if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[4]) then
  return 'duplicate'
end

local window, timeout, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local address_cap = tonumber(ARGV[5])
local CHUNK = 500  -- arguments per variadic call, well under Lua's stack limit

local outcomes = {}
local seen = {}      -- ZADD arguments: score, member, score, member...
local visitors = {}  -- PFADD arguments
local newest, pageviews, visits = 0, 0, 0

-- Tell whether one more hit from an address goes past its per-minute limit.
local function address_flooding(counter)
  local hits = redis.call('INCR', counter)
  if hits == 1 then
    redis.call('EXPIRE', counter, 120)
  end
  return hits > address_cap
end

-- The session remembers the last hit and how many hits the visitor sent in its minute, so
-- one key both slides the visit and caps a visitor refreshing too fast. A session written by
-- an older version holds only "<last hit ms>".
local function count(session, visitor, at, now)
  local minute = math.floor(now / 60000)
  local raw = redis.call('GET', session)
  local last, session_minute, in_minute = 0, -1, 0
  if raw then
    local a, m, n = string.match(raw, '^(%d+):?(%d*):?(%d*)$')
    last, session_minute, in_minute = tonumber(a) or 0, tonumber(m) or -1, tonumber(n) or 0
  end
  if minute == session_minute then
    if in_minute >= cap then
      return 'rate_limited'
    end
    in_minute = in_minute + 1
  elseif minute > session_minute then
    session_minute, in_minute = minute, 1
  end  -- an older minute: a late hit replayed from a buffer, not capped

  local new_visit = (raw == false) or (now - last >= timeout)
  if now > last then
    redis.call('SET', session, at .. ':' .. session_minute .. ':' .. in_minute, 'PX', timeout)
  else
    redis.call('SET', session, last .. ':' .. session_minute .. ':' .. in_minute, 'KEEPTTL')
  end

  pageviews = pageviews + 1
  visitors[#visitors + 1] = visitor
  if new_visit then
    visits = visits + 1
    return 'visit'
  end
  return 'pageview'
end

for i = 0, (#KEYS - 5) / 2 - 1 do
  local k, a = 5 + 2 * i, 9 + 3 * i
  local visitor, at, kind = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local now = tonumber(at)
  local outcome
  if address_cap > 0 and address_flooding(KEYS[k + 2]) then
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
      outcome = count(KEYS[k + 1], visitor, at, now)
    end
  end
  outcomes[#outcomes + 1] = outcome
end

local online, month, day_visitors, total = KEYS[2], KEYS[3], KEYS[4], KEYS[5]

for first = 1, #seen, CHUNK do
  redis.call('ZADD', online, 'GT', unpack(seen, first, math.min(first + CHUNK - 1, #seen)))
end
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
for first = 1, #visitors, CHUNK do
  grew = grew + redis.call('PFADD', day_visitors, unpack(visitors, first, math.min(first + CHUNK - 1, #visitors)))
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
return outcomes
