-- What the caps turned away, for the dashboard's "not counted and why".
local limited = {}
for _, outcome in ipairs(outcomes) do
  if outcome == 'rate_limited' or outcome == 'ip_limited' then
    limited[outcome] = (limited[outcome] or 0) + 1
  end
end
for reason, count_ in pairs(limited) do
  redis.call('HINCRBY', K.not_counted, reason, count_)
  redis.call('EXPIRE', K.not_counted, TTL.not_counted, 'NX')
end

