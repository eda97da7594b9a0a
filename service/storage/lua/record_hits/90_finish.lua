-- The call: every group's checks and counts first, then every group's writes.
local replies, planned = {}, {}
local first = 0
for g = 1, GROUPS do
  local G = group(g, first)
  first = first + G.count
  local status = check_group(G)
  if status == nil then
    local wrong = count_group(G) or check_group_types(G)
    if wrong then
      return wrong
    end
    planned[#planned + 1] = G
  end
  replies[g] = status
end
write_sessions()
for _, G in ipairs(planned) do
  for _, write in ipairs(WRITERS) do
    write(G)
  end
  -- Last: the group's marker, so a batch retried after a timeout finds it and counts nothing twice.
  redis.call('SET', G.K.marker, 1, 'EX', A.marker_seconds)
  replies[G.index] = {G.outcomes, G.over_cap, G.pushed_out}
end
return replies
