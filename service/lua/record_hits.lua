-- Count a batch of hits of ONE site, atomically and at most once.
-- Every key is passed in KEYS (built by service/keys.py), so the script runs on Redis Cluster.
--
-- KEYS[1] batch marker (set once; a replayed batch finds it and changes nothing)
-- then for hit i (0-based), at k = 1 + 7*i:
--   KEYS[k+1] online zset (visitor -> last seen ms)   KEYS[k+2] visitor's session (last hit ms)
--   KEYS[k+3] visitor's hits in this minute            KEYS[k+4] history hash of the hit's month
--   KEYS[k+5] the hit's day visitors HyperLogLog        KEYS[k+6] all-time totals hash
--   KEYS[k+7] the client address's hits in this minute (address hashed like visitors)
-- ARGV[1] online window (ms)   ARGV[2] visit timeout (ms)   ARGV[3] hits a minute allowed
-- ARGV[4] batch marker lifetime (s)   ARGV[5] hits a minute one address may send (0: no limit)
-- then for hit i, at a = 5 + 7*i:
--   ARGV[a+1] visitor id   ARGV[a+2] hit time (unix ms, the service's clock)
--   ARGV[a+3] day visits field   ARGV[a+4] day pageviews field   ARGV[a+5] day visitors field
--   ARGV[a+6] seconds the day's visitor set must still live   ARGV[a+7] 'pageview' or 'ping'
-- Returns 'duplicate', or one outcome per hit: 'visit' (a new visit began), 'pageview',
-- 'ping', 'rate_limited' (one visitor refreshing too fast) or 'ip_limited' (one address flooding).
--
-- Lifetimes are relative (EXPIRE, PX), measured from the hit: the service's clock picks the
-- period, and a Redis whose clock disagrees (or a hit replayed late) never drops a key early.

if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[4]) then
  return 'duplicate'
end

local window, timeout, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local address_cap = tonumber(ARGV[5])
local outcomes = {}
local newest = 0

-- Count one more hit in a one-minute counter; tell whether it went past `limit`.
local function past_cap(counter, limit)
  local hits = redis.call('INCR', counter)
  if hits == 1 then
    redis.call('EXPIRE', counter, 120)
  end
  return hits > limit
end

local function count(k, a)
  local online, session, minute, month, day_visitors, total, address =
    KEYS[k+1], KEYS[k+2], KEYS[k+3], KEYS[k+4], KEYS[k+5], KEYS[k+6], KEYS[k+7]
  local visitor, now = ARGV[a+1], tonumber(ARGV[a+2])

  if address_cap > 0 and past_cap(address, address_cap) then
    return 'ip_limited'
  end

  -- Presence: keep the newest time seen (trimmed once per call, below).
  redis.call('ZADD', online, 'GT', now, visitor)
  if now > newest then
    newest = now
  end
  if ARGV[a+7] == 'ping' then
    return 'ping'
  end

  if past_cap(minute, cap) then
    return 'rate_limited'
  end

  -- Sliding session: a hit after `timeout` of silence starts a new visit.
  local last = tonumber(redis.call('GET', session))
  local new_visit = (last == nil) or (now - last >= timeout)
  if last == nil or now > last then
    redis.call('SET', session, now, 'PX', timeout)
  end

  redis.call('HINCRBY', month, ARGV[a+4], 1)
  redis.call('HINCRBY', total, 'pageviews', 1)
  if new_visit then
    redis.call('HINCRBY', month, ARGV[a+3], 1)
    redis.call('HINCRBY', total, 'visits', 1)
  end

  -- Visitors: the day's estimate is copied into history; the total grows by the difference.
  if redis.call('PFADD', day_visitors, visitor) == 1 then
    redis.call('EXPIRE', day_visitors, ARGV[a+6], 'NX')
    local estimate = redis.call('PFCOUNT', day_visitors)
    local before = tonumber(redis.call('HGET', month, ARGV[a+5]) or '0')
    if estimate > before then
      redis.call('HSET', month, ARGV[a+5], estimate)
      redis.call('HINCRBY', total, 'visitors', estimate - before)
    end
  end
  if new_visit then
    return 'visit'
  end
  return 'pageview'
end

for i = 0, (#KEYS - 1) / 7 - 1 do
  outcomes[#outcomes + 1] = count(1 + 7 * i, 5 + 7 * i)
end

-- All hits of a call share the site's online set: drop members that left the window, once.
if newest > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (newest - window))
  redis.call('PEXPIRE', KEYS[2], window)
end
return outcomes
