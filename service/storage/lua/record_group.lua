-- record_group: count a batch's readers for ONE group on ONE day of the group's zone.
--
-- KEYS[1] the day's HyperLogLog of group visitor ids   KEYS[2] the group's online zset
-- KEYS[3] the month's history hash (<DD>:u)             KEYS[4] the all-time hash (visitors)
-- ARGV[1] the history field of the day (<DD>:u)   ARGV[2] the online window (ms)
-- ARGV[3] seconds the HyperLogLog must still live  ARGV[4..] triples: at (ms), group visitor id,
-- 1 when the hit is a pageview (a reader) or 0 for a ping (presence only).
--
-- Every key carries the group's hash tag {g:<group>} (one slot), never a site's: it runs beside
-- record_hits in the same round trip, not inside it, so it works on Redis Cluster too. It is
-- idempotent (PFADD and ZADD GT of what is there already change nothing), so a retried batch
-- counts no reader twice.

local window = tonumber(ARGV[2])
local seen, readers, newest = {}, {}, 0
for i = 4, #ARGV, 3 do
  local at = tonumber(ARGV[i])
  seen[#seen + 1] = at
  seen[#seen + 1] = ARGV[i + 1]
  if at > newest then
    newest = at
  end
  if ARGV[i + 2] == '1' then
    readers[#readers + 1] = ARGV[i + 1]
  end
end
for first = 1, #seen, 500 do
  redis.call('ZADD', KEYS[2], 'GT', unpack(seen, first, math.min(first + 499, #seen)))
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (newest - window))
redis.call('PEXPIRE', KEYS[2], window)

local grew = 0
for first = 1, #readers, 500 do
  grew = grew + redis.call('PFADD', KEYS[1], unpack(readers, first, math.min(first + 499, #readers)))
end
if grew > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[3], 'NX')
  local estimate = redis.call('PFCOUNT', KEYS[1])
  local before = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
  if estimate > before then
    redis.call('HSET', KEYS[3], ARGV[1], estimate)
    redis.call('HINCRBY', KEYS[4], 'visitors', estimate - before)
  end
end
return grew
