-- Past PAGES_PER_DAY distinct pages a day, a page new to the day counts for the site only: in
-- the order first seen, pages the day has already counted stay, new ones while there is room.
-- Only a group that could reach the cap asks which of its pages the day has (most never do).
-- Decided in phase 2, by the writer below: a group before this one in the call may have
-- written to the same day (one site in two zones while its time zone changes, or a past day
-- trimmed by the next day's group); SIZES is the day's size, or more.
local function apply_page_cap(G)
  local page_cap, pages_today = tonumber(A.pages_per_day), SIZES[G.K.pages]
  if pages_today + #G.page_order <= page_cap then
    return
  end
  pages_today = redis.call('ZCARD', G.K.pages)
  SIZES[G.K.pages] = pages_today
  local known = {}
  for _, scores in ipairs(in_chunks('ZMSCORE', G.K.pages, nil, G.page_order)) do
    for _, score in ipairs(scores) do
      known[#known + 1] = score
    end
  end
  local kept = {}
  for j, page in ipairs(G.page_order) do
    if known[j] or pages_today < page_cap then
      if not known[j] then
        pages_today = pages_today + 1
      end
      kept[#kept + 1] = page
    else
      G.over_cap = G.over_cap + G.page_views[page]
    end
  end
  G.page_order = kept
end

-- Pages: the day's views and all time (the baseline is folded into all time), the titles and
-- spellings (one HSET for all pages).
WRITERS[#WRITERS + 1] = function(G)
  if #G.page_order == 0 then
    return
  end
  apply_page_cap(G)
  local K, page_order, page_views = G.K, G.page_order, G.page_views
  if #page_order == 0 then
    return
  end
  local title_fields, link_fields = {}, {}  -- HSET arguments: page, value, page, value...
  for _, page in ipairs(page_order) do
    redis.call('ZINCRBY', K.pages, page_views[page], page)
    redis.call('ZINCRBY', K.pages_all, page_views[page], page)
    local title, link = G.page_titles[page], G.page_links[page]
    if title then
      title_fields[#title_fields + 1] = page
      title_fields[#title_fields + 1] = title
    end
    if link then
      link_fields[#link_fields + 1] = page
      link_fields[#link_fields + 1] = link
    end
  end
  in_chunks('HSET', K.titles, nil, title_fields)
  in_chunks('HSET', K.links, nil, link_fields)

  -- All time: at most A.pages_all_time pages. Past it the least viewed go (ZPOPMIN: a page is never
  -- pushed out by one with fewer views; flood pages with one view each push out only pages with
  -- one view), with their titles and spellings: both hashes hold kept pages only, so they are
  -- bounded too. The highest count pushed out so far is kept (pg:floor), for the docs' promise.
  local room = tonumber(A.pages_all_time)
  local all_time = SIZES[K.pages_all] + #page_order  -- at most that: some pages had views already
  if all_time > room then
    all_time = redis.call('ZCARD', K.pages_all)
  end
  if all_time > room then
    local popped = redis.call('ZPOPMIN', K.pages_all, all_time - room)
    all_time = room
    local gone = {}
    for j = 1, #popped, 2 do
      gone[#gone + 1] = popped[j]
    end
    G.pushed_out = #gone
    in_chunks('HDEL', K.titles, nil, gone)
    in_chunks('HDEL', K.links, nil, gone)
    local highest = tonumber(popped[#popped])
    if highest > tonumber(redis.call('HGET', K.pages_floor, 'views') or '0') then
      redis.call('HSET', K.pages_floor, 'views', highest)
    end
    redis.call('HINCRBY', K.pages_floor, 'pages', G.pushed_out)
  end
  SIZES[K.pages_all] = all_time

  if SIZES[K.pages] == 0 then  -- a new day's set: its lifetime, once
    redis.call('EXPIRE', K.pages, G.TTL.pages, 'NX')
  end
  SIZES[K.pages] = SIZES[K.pages] + #page_order
  -- A past day only answers top lists: keep its top entries, drop the long tail. Copied into
  -- a fresh set (ZRANGESTORE onto itself), since a set trimmed in place keeps its big hash
  -- table (about 130 KiB a day at 10,000 pages, bench/pages.py); its lifetime is kept.
  local keep = tonumber(A.pages_kept_per_past_day)
  if SIZES[K.pages_before] > keep and redis.call('ZCARD', K.pages_before) > keep then  -- SIZES: or more
    local lifetime = redis.call('PTTL', K.pages_before)
    redis.call('ZRANGESTORE', K.pages_before, K.pages_before, 0, keep - 1, 'REV')
    if lifetime > 0 then
      redis.call('PEXPIRE', K.pages_before, lifetime)
    end
    SIZES[K.pages_before] = keep
  end
end
