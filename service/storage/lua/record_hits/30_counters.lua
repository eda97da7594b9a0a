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

in_chunks('ZADD', K.online, 'GT', seen)
if newest > 0 then
  -- Drop members that left the window; the set lives one window past the newest hit.
  redis.call('ZREMRANGEBYSCORE', K.online, '-inf', '(' .. (newest - window))
  redis.call('PEXPIRE', K.online, window)
end

if pageviews > 0 then
  redis.call('HINCRBY', K.history, A.pageviews_field, pageviews)
  redis.call('HINCRBY', K.total, 'pageviews', pageviews)
end
if visits > 0 then
  redis.call('HINCRBY', K.history, A.visits_field, visits)
  redis.call('HINCRBY', K.total, 'visits', visits)
end

-- Visitors: the day's estimate is copied into history; the total grows by the difference.
local grew = 0
for _, changed in ipairs(in_chunks('PFADD', K.visitors, nil, visitors)) do
  grew = grew + changed
end
if grew > 0 then
  redis.call('EXPIRE', K.visitors, TTL.visitors, 'NX')
  local estimate = redis.call('PFCOUNT', K.visitors)
  local before = tonumber(redis.call('HGET', K.history, A.visitors_field) or '0')
  if estimate > before then
    redis.call('HSET', K.history, A.visitors_field, estimate)
    redis.call('HINCRBY', K.total, 'visitors', estimate - before)
  end
end

