#!lua
-- Replace the imported baseline views of some pages of one site (idempotent: setting the same
-- numbers twice changes nothing). The all-time zset holds counted views plus the baseline, so
-- it moves by the difference between the new baseline and the old.
--
-- KEYS[1] page baselines hash   KEYS[2] all-time page views zset
-- ARGV[1], ARGV[2] page, views; ARGV[3], ARGV[4] ...
-- Returns how many pages changed.

local changed = 0
for i = 1, #ARGV, 2 do
  local page, views = ARGV[i], tonumber(ARGV[i + 1])
  local before = tonumber(redis.call('HGET', KEYS[1], page) or '0')
  if views ~= before then
    redis.call('HSET', KEYS[1], page, views)
    redis.call('ZINCRBY', KEYS[2], views - before, page)
    changed = changed + 1
  end
end
return changed
