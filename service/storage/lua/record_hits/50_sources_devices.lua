-- Where each visit's reader came from and on what, from its first counted pageview (G.visit_hits):
-- K.sources "<channel>|<name>", K.devices "d|<device>" and "a|<app>", K.browsers, K.oses -> visits.
-- So every breakdown of a day sums to the day's visits. Past A.sources_per_day names in a hash a
-- new name counts under its channel's '(other)' ('Other' for browsers and OS): the hashes stay
-- bounded whatever anonymous readers send, and each lives G.TTL.<name> past its day.

local function either(value, default)
  if value == nil or value == '' then
    return default
  end
  return value
end

-- A group's visits tallied per key and name first: a call per distinct name, not per visit.
-- tallies: key -> {name -> visits}; order: key -> names in the order first seen; fallbacks: key ->
-- {name -> where it counts past the key's room} (nil: no room check).
local function tally(t, key, name, fallback)
  local counts = t.tallies[key]
  if counts == nil then
    counts, t.order[key], t.fallbacks[key] = {}, {}, fallback and {} or nil
    t.tallies[key] = counts
  end
  if counts[name] == nil then
    counts[name] = 0
    t.order[key][#t.order[key] + 1] = name
    if fallback then
      t.fallbacks[key][name] = fallback
    end
  end
  counts[name] = counts[name] + 1
end

WRITERS[#WRITERS + 1] = function(G)
  local K = G.K
  if #G.visit_hits == 0 then
    return
  end
  local room = tonumber(A.sources_per_day)
  local t = {tallies = {}, order = {}, fallbacks = {}}
  for _, i in ipairs(G.visit_hits) do
    local channel = either(hits.channel[i], 'direct')
    tally(t, K.sources, channel .. '|' .. either(hits.source[i], ''), channel .. '|(other)')
    tally(t, K.devices, 'd|' .. either(hits.device[i], 'other'))
    tally(t, K.devices, 'a|' .. either(hits.app[i], 'none'))
    tally(t, K.browsers, either(hits.browser[i], 'Other'), 'Other')
    tally(t, K.oses, either(hits.os[i], 'Other'), 'Other')
  end
  for _, name in ipairs({'sources', 'devices', 'browsers', 'oses'}) do
    local key = K[name]
    local counts, names, fallbacks, before = t.tallies[key], t.order[key], t.fallbacks[key], SIZES[key]
    -- Only a hash that these names could take past its room asks which of them it has (most never do).
    local size = fallbacks and before + #names > room and redis.call('HLEN', key)
    for _, name_ in ipairs(names) do
      local field = name_
      if size and redis.call('HEXISTS', key, name_) == 0 then
        if size >= room then
          field = fallbacks[name_]
        else
          size = size + 1
        end
      end
      redis.call('HINCRBY', key, field, counts[name_])
    end
    if before == 0 then  -- a new hash: its lifetime, once
      redis.call('EXPIRE', key, G.TTL[name], 'NX')
    end
    SIZES[key] = before + #names  -- at most that: some names were there already
  end
end

-- A past day only answers period totals: keep its top A.detail_kept_per_past_day names and fold the
-- rest into '(other)' of their channel ('Other' for browsers and OS), so the day still sums to its
-- visits and a flooded day shrinks to a few KiB for its DETAIL_DAYS. Once a day, by the first visit
-- of the next one (a trimmed hash is at the limit, so later batches only read its size, SIZES).
local function other_source(field)
  return string.match(field, '^[^|]*') .. '|(other)'
end
local function other_family(field)
  return 'Other'
end

local function fold(key, keep, other_of)
  -- Room for the channels' '(other)' fields. SIZES may be more than the hash holds (a late group of
  -- that day in the same call): asked again before the costly part.
  if SIZES[key] <= keep + 8 or redis.call('HLEN', key) <= keep + 8 then
    return
  end
  local flat = redis.call('HGETALL', key)
  local fields = {}
  for j = 1, #flat, 2 do
    fields[#fields + 1] = {flat[j], tonumber(flat[j + 1])}
  end
  table.sort(fields, function(a, b) return a[2] > b[2] or (a[2] == b[2] and a[1] < b[1]) end)
  local folded, gone = {}, {}
  for j = keep + 1, #fields do
    local field, visits = fields[j][1], fields[j][2]
    local other = other_of(field)
    if field ~= other then
      folded[other] = (folded[other] or 0) + visits
      gone[#gone + 1] = field
    end
  end
  in_chunks('HDEL', key, nil, gone)
  for other, visits in pairs(folded) do
    redis.call('HINCRBY', key, other, visits)
  end
  SIZES[key] = keep + 8
end

WRITERS[#WRITERS + 1] = function(G)
  if #G.visit_hits == 0 then
    return
  end
  local keep = tonumber(A.detail_kept_per_past_day)
  fold(G.K.sources_before, keep, other_source)
  fold(G.K.browsers_before, keep, other_family)
  fold(G.K.oses_before, keep, other_family)
end
