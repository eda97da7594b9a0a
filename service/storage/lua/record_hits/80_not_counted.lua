-- What the caps turned away, for the dashboard's "not counted and why".
WRITERS[#WRITERS + 1] = function(G)
  local limited = {}
  for _, outcome in ipairs(G.outcomes) do
    if outcome == 'rate_limited' or outcome == 'ip_limited' then
      limited[outcome] = (limited[outcome] or 0) + 1
    end
  end
  for reason, count_ in pairs(limited) do
    redis.call('HINCRBY', G.K.not_counted, reason, count_)
    redis.call('EXPIRE', G.K.not_counted, G.TTL.not_counted, 'NX')
  end
end
