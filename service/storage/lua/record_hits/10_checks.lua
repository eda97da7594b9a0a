-- Phase 1: reads and checks. ---------------------------------------------------------------

-- A group already written ('duplicate') or of a site removed meanwhile ('unknown_site') counts
-- nothing; nil: go on.
local function check_group(G)
  if redis.call('EXISTS', G.K.marker) == 1 then
    return 'duplicate'
  end
  if redis.call('EXISTS', G.K.config) == 0 then
    return 'unknown_site'
  end
  -- The type of each key a group will write is checked before the first write (25_types.lua, with
  -- check_types from the prelude), so a key of the wrong type is an error reply with nothing written;
  -- keys this group will not touch are not asked about (a returning reader's hit checks four keys).
  return nil
end
