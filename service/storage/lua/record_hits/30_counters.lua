-- Phase 2: writes. -------------------------------------------------------------------------

-- The call's sessions and address counters, once, after every group's checks.
local function write_sessions()
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
end

-- Presence, the day's and all time's visits and pageviews, and visitors.
WRITERS[#WRITERS + 1] = function(G)
  local K = G.K
  in_chunks('ZADD', K.online, 'GT', G.seen)
  if G.newest > 0 then
    -- Drop members that left the window; the set lives one window past the newest hit.
    redis.call('ZREMRANGEBYSCORE', K.online, '-inf', '(' .. (G.newest - window))
    redis.call('PEXPIRE', K.online, window)
  end

  if G.pageviews > 0 then
    redis.call('HINCRBY', K.history, G.A.pageviews_field, G.pageviews)
    redis.call('HINCRBY', K.total, 'pageviews', G.pageviews)
  end
  if G.visits > 0 then
    redis.call('HINCRBY', K.history, G.A.visits_field, G.visits)
    redis.call('HINCRBY', K.total, 'visits', G.visits)
  end

  -- Visitors: the day's estimate is copied into history; the total grows by the difference.
  local grew = 0
  for _, changed in ipairs(in_chunks('PFADD', K.visitors, nil, G.visitors)) do
    grew = grew + changed
  end
  if grew > 0 then
    if SIZES[K.visitors] == 0 then  -- a new key (its probe's PFCOUNT): its lifetime, once
      redis.call('EXPIRE', K.visitors, G.TTL.visitors, 'NX')
    end
    local estimate = redis.call('PFCOUNT', K.visitors)
    SIZES[K.visitors] = estimate
    local before = tonumber(redis.call('HGET', K.history, G.A.visitors_field) or '0')
    if estimate > before then
      redis.call('HSET', K.history, G.A.visitors_field, estimate)
      redis.call('HINCRBY', K.total, 'visitors', estimate - before)
    end
  end
end
