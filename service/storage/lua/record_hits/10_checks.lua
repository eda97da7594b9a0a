-- Phase 1: reads and checks. ---------------------------------------------------------------

if redis.call('EXISTS', K.marker) == 1 then
  return 'duplicate'
end
if redis.call('EXISTS', K.config) == 0 then
  return 'unknown_site'
end

-- The type of each key a batch will write is checked before its first write (25_types.lua, with
-- check_types from the prelude), so a key of the wrong type is an error reply with nothing written;
-- keys this batch will not touch are not asked about (a returning reader's hit checks four keys).
if redis.call('EXISTS', K.visitors) == 1 then
  redis.call('PFCOUNT', K.visitors)  -- errors now, not mid-write, if it is not a HyperLogLog
end

local window, timeout, cap = tonumber(A.online_window_ms), tonumber(A.visit_timeout_ms), tonumber(A.visitor_hits_per_minute)
local address_cap = tonumber(A.address_hits_per_minute)
local CHUNK = 500  -- arguments per variadic call, well under Lua's stack limit (even: pairs stay whole)

-- One variadic command (with an optional flag before the arguments) over ``args``, CHUNK at a
-- time; its replies, one per chunk.
local function in_chunks(command, key, flag, args)
  local replies = {}
  for first = 1, #args, CHUNK do
    local last = math.min(first + CHUNK - 1, #args)
    if flag then
      replies[#replies + 1] = redis.call(command, key, flag, unpack(args, first, last))
    else
      replies[#replies + 1] = redis.call(command, key, unpack(args, first, last))
    end
  end
  return replies
end
