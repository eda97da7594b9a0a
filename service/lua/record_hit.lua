-- Count one hit: presence, rate cap, sliding visit session, day and all-time counters.
-- Every key is passed in KEYS (built by service/keys.py), so the script runs on Redis Cluster.
--
-- KEYS[1] online zset (visitor -> last seen ms)   KEYS[2] visitor's session (last hit ms)
-- KEYS[3] visitor's hits in this minute           KEYS[4] history hash of this month
-- KEYS[5] this day's visitors HyperLogLog          KEYS[6] all-time totals hash
-- ARGV[1] visitor id         ARGV[2] hit time (unix ms, the service's clock)
-- ARGV[3] online window (ms) ARGV[4] visit timeout (ms)   ARGV[5] hits a minute allowed
-- ARGV[6] day visits field   ARGV[7] day pageviews field  ARGV[8] day visitors field
-- ARGV[9] seconds the day's visitor set must still live   ARGV[10] 'pageview' or 'ping'
--
-- Lifetimes are relative (EXPIRE, PX), measured from the hit: the service's clock picks the
-- period, and a Redis whose clock disagrees (or a hit replayed late) never drops a key early.
-- Returns 'ping', 'rate_limited', 'visit' (a new visit began) or 'pageview'.

local visitor, now = ARGV[1], tonumber(ARGV[2])
local window, timeout = tonumber(ARGV[3]), tonumber(ARGV[4])

-- Presence: keep the newest time seen, drop members that left the window.
redis.call('ZADD', KEYS[1], 'GT', now, visitor)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
redis.call('PEXPIRE', KEYS[1], window)
if ARGV[10] == 'ping' then
  return 'ping'
end

local hits = redis.call('INCR', KEYS[3])
if hits == 1 then
  redis.call('EXPIRE', KEYS[3], 120)
end
if hits > tonumber(ARGV[5]) then
  return 'rate_limited'
end

-- Sliding session: a hit after `timeout` of silence starts a new visit.
local last = tonumber(redis.call('GET', KEYS[2]))
local new_visit = (last == nil) or (now - last >= timeout)
if last == nil or now > last then
  redis.call('SET', KEYS[2], now, 'PX', timeout)
end

redis.call('HINCRBY', KEYS[4], ARGV[7], 1)
redis.call('HINCRBY', KEYS[6], 'pageviews', 1)
if new_visit then
  redis.call('HINCRBY', KEYS[4], ARGV[6], 1)
  redis.call('HINCRBY', KEYS[6], 'visits', 1)
end

-- Visitors: the day's estimate is copied into history, the total grows by the difference.
if redis.call('PFADD', KEYS[5], visitor) == 1 then
  redis.call('EXPIRE', KEYS[5], ARGV[9], 'NX')
  local count = redis.call('PFCOUNT', KEYS[5])
  local before = tonumber(redis.call('HGET', KEYS[4], ARGV[8]) or '0')
  if count > before then
    redis.call('HSET', KEYS[4], ARGV[8], count)
    redis.call('HINCRBY', KEYS[6], 'visitors', count - before)
  end
end

if new_visit then
  return 'visit'
end
return 'pageview'
