-- End of a group's phase 1: the types of the keys its writers will write, now that its pages, visits
-- and capped hits are known (an error reply, or nil).
local function check_group_types(G)
  local capped = false
  for _, outcome in ipairs(G.outcomes) do
    if outcome == 'rate_limited' or outcome == 'ip_limited' then
      capped = true
      break
    end
  end
  return check_types(G.K, {always = true, pages = #G.page_order > 0, visits = #G.visit_hits > 0, limited = capped})
end
