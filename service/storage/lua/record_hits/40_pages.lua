-- Pages: the day's views and all time (the baseline is folded into all time), the titles and
-- spellings (one HSET for all pages).
local title_fields, link_fields = {}, {}  -- HSET arguments: page, value, page, value...
local function add_field(fields, page, value)
  if value then
    fields[#fields + 1] = page
    fields[#fields + 1] = value
  end
end
for _, page in ipairs(page_order) do
  redis.call('ZINCRBY', K.pages, page_views[page], page)
  redis.call('ZINCRBY', K.pages_all, page_views[page], page)
  add_field(title_fields, page, page_titles[page])
  add_field(link_fields, page, page_links[page])
end
in_chunks('HSET', K.titles, nil, title_fields)
in_chunks('HSET', K.links, nil, link_fields)
if #page_order > 0 then
  redis.call('EXPIRE', K.pages, TTL.pages, 'NX')
  -- A past day only answers top lists: keep its top entries, drop the long tail. Copied into
  -- a fresh set (ZRANGESTORE onto itself), since a set trimmed in place keeps its big hash
  -- table (about 130 KiB a day at 10,000 pages, bench/pages.py); its lifetime is kept.
  local keep = tonumber(A.pages_kept_per_past_day)
  if redis.call('ZCARD', K.pages_before) > keep then
    local lifetime = redis.call('PTTL', K.pages_before)
    redis.call('ZRANGESTORE', K.pages_before, K.pages_before, 0, keep - 1, 'REV')
    if lifetime > 0 then
      redis.call('PEXPIRE', K.pages_before, lifetime)
    end
  end
end

