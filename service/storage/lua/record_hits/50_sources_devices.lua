-- Where each visit's reader came from and on what, from its first counted pageview (visit_hits):
-- K.sources "<channel>|<name>", K.devices "d|<device>" and "a|<app>", K.browsers, K.oses -> visits.
-- So every breakdown of a day sums to the day's visits. Past A.sources_per_day names in a hash a
-- new name counts under its channel's '(other)' ('Other' for browsers and OS): the hashes stay
-- bounded whatever anonymous readers send, and each lives TTL.<name> past its day.
if #visit_hits > 0 then
  local room = tonumber(A.sources_per_day)
  local sizes = {}
  local function count_visit(key, field, fallback)
    if redis.call('HEXISTS', key, field) == 0 then
      local size = sizes[key] or redis.call('HLEN', key)
      if size >= room then
        field = fallback
      else
        sizes[key] = size + 1
      end
    end
    redis.call('HINCRBY', key, field, 1)
  end
  local function either(value, default)
    if value == nil or value == '' then
      return default
    end
    return value
  end
  for _, i in ipairs(visit_hits) do
    local channel = either(hits.channel[i], 'direct')
    count_visit(K.sources, channel .. '|' .. either(hits.source[i], ''), channel .. '|(other)')
    redis.call('HINCRBY', K.devices, 'd|' .. either(hits.device[i], 'other'), 1)
    redis.call('HINCRBY', K.devices, 'a|' .. either(hits.app[i], 'none'), 1)
    count_visit(K.browsers, either(hits.browser[i], 'Other'), 'Other')
    count_visit(K.oses, either(hits.os[i], 'Other'), 'Other')
  end
  for _, name in ipairs({'sources', 'devices', 'browsers', 'oses'}) do
    redis.call('EXPIRE', K[name], TTL[name], 'NX')
  end
end
