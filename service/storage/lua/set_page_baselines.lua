#!lua
-- Replace the imported baseline views of some pages of one site (idempotent: setting the same
-- numbers twice changes nothing). The all-time zset holds counted views plus the baseline, so
-- it moves by the difference between the new baseline and the old; past PAGES_ALL_TIME pages the
-- least viewed go, as record_hits does (a chunk of an import at a time, so no call runs long).
--
-- KEYS[1] page baselines hash   KEYS[2] all-time page views zset   KEYS[3] titles hash
-- KEYS[4] links hash   KEYS[5] the pushed-out floor hash
-- ARGV[1] PAGES_ALL_TIME; ARGV[2], ARGV[3] page, views; ARGV[4], ARGV[5] ...
-- Returns how many pages changed.

local changed = 0
for i = 2, #ARGV, 2 do
  local page, views = ARGV[i], tonumber(ARGV[i + 1])
  local before = tonumber(redis.call('HGET', KEYS[1], page) or '0')
  if views ~= before then
    redis.call('HSET', KEYS[1], page, views)
    redis.call('ZINCRBY', KEYS[2], views - before, page)
    changed = changed + 1
  end
end
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[1])
if over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[2], over)
  for j = 1, #popped, 2 do
    redis.call('HDEL', KEYS[3], popped[j])
    redis.call('HDEL', KEYS[4], popped[j])
  end
  if tonumber(popped[#popped]) > tonumber(redis.call('HGET', KEYS[5], 'views') or '0') then
    redis.call('HSET', KEYS[5], 'views', popped[#popped])
  end
  redis.call('HINCRBY', KEYS[5], 'pages', over)
end
return changed
