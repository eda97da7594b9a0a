-- Where each visit's reader came from and on what, from its first counted pageview (G.visit_hits):
-- K.sources "<channel>|<name>", K.devices "d|<device>" and "a|<app>", K.browsers, K.oses -> visits.
-- So every breakdown of a day sums to the day's visits. Past A.sources_per_day names in a hash a
-- new name counts under its channel's '(other)' ('Other' for browsers and OS): the hashes stay
-- bounded whatever anonymous readers send, and each lives G.TTL.<name> past its day.
WRITERS[#WRITERS + 1] = function(G)
  local K = G.K
  if #G.visit_hits == 0 then
    return
  end
  local room = tonumber(A.sources_per_day)
  -- The batch's visits tallied per key and name first: a call per distinct name, not per visit.
  local tallies, order = {}, {}  -- key -> {name -> visits}, key -> names in the order first seen
  local fallbacks = {}           -- key -> {name -> where it counts past the key's room}, nil: no room check
  local function tally(key, name, fallback)
    local counts = tallies[key]
    if counts == nil then
      counts, order[key], fallbacks[key] = {}, {}, fallback and {} or nil
      tallies[key] = counts
    end
    if counts[name] == nil then
      counts[name] = 0
      order[key][#order[key] + 1] = name
      if fallback then
        fallbacks[key][name] = fallback
      end
    end
    counts[name] = counts[name] + 1
  end
  local function either(value, default)
    if value == nil or value == '' then
      return default
    end
    return value
  end
  for _, i in ipairs(G.visit_hits) do
    local channel = either(hits.channel[i], 'direct')
    tally(K.sources, channel .. '|' .. either(hits.source[i], ''), channel .. '|(other)')
    tally(K.devices, 'd|' .. either(hits.device[i], 'other'))
    tally(K.devices, 'a|' .. either(hits.app[i], 'none'))
    tally(K.browsers, either(hits.browser[i], 'Other'), 'Other')
    tally(K.oses, either(hits.os[i], 'Other'), 'Other')
  end
  for _, key in ipairs({K.sources, K.devices, K.browsers, K.oses}) do
    local counts, size = tallies[key], nil
    for _, name in ipairs(order[key]) do
      local field = name
      if fallbacks[key] and redis.call('HEXISTS', key, name) == 0 then
        size = size or redis.call('HLEN', key)
        if size >= room then
          field = fallbacks[key][name]
        else
          size = size + 1
        end
      end
      redis.call('HINCRBY', key, field, counts[name])
    end
  end
  for _, name in ipairs({'sources', 'devices', 'browsers', 'oses'}) do
    redis.call('EXPIRE', K[name], G.TTL[name], 'NX')
  end
end

-- A past day only answers period totals: keep its top A.detail_kept_per_past_day names and fold the
-- rest into '(other)' of their channel ('Other' for browsers and OS), so the day still sums to its
-- visits and a flooded day shrinks to a few KiB for its DETAIL_DAYS. Once a day, by the first visit
-- of the next one (a trimmed hash is at the limit, so later batches only ask its length).
WRITERS[#WRITERS + 1] = function(G)
  local K = G.K
  if #G.visit_hits == 0 then
    return
  end
  local keep = tonumber(A.detail_kept_per_past_day)
  local function fold(key, other_of)
    if redis.call('HLEN', key) <= keep + 8 then  -- room for the channels' '(other)' fields
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
  end
  fold(K.sources_before, function(field) return string.match(field, '^[^|]*') .. '|(other)' end)
  fold(K.browsers_before, function(field) return 'Other' end)
  fold(K.oses_before, function(field) return 'Other' end)
end
