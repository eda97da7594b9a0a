-- End of phase 1: the types of the keys phase 2 will write, now that the batch's pages, visits and
-- capped hits are known.
local capped = false
for _, outcome in ipairs(outcomes) do
  if outcome == 'rate_limited' or outcome == 'ip_limited' then
    capped = true
    break
  end
end
local wrong = check_types({always = true, pages = #page_order > 0, visits = #visit_hits > 0, limited = capped})
if wrong then
  return wrong
end
