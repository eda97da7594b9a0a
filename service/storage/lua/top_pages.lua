#!lua flags=no-writes
-- The most viewed pages of a period, with their titles, in one round trip (reads only).
--
-- KEYS[1] page titles hash   KEYS[2] page links hash   KEYS[3..] one page-views zset per day of
-- the period (or the all-time zset); several are summed.
-- ARGV[1] how many pages to answer
-- Returns page, views, title ('' when none), link ('' when the page itself), ... most viewed
-- first, ties by page.

local limit = tonumber(ARGV[1])
local raw
if #KEYS == 3 then
  -- One set: its top by rank, with room for the ties at the cut (sorted again below).
  raw = redis.call('ZRANGE', KEYS[3], 0, limit + 49, 'REV', 'WITHSCORES')
else
  local args = {#KEYS - 2}
  for i = 3, #KEYS do
    args[#args + 1] = KEYS[i]
  end
  args[#args + 1] = 'WITHSCORES'
  raw = redis.call('ZUNION', unpack(args))
end

local entries = {}
for i = 1, #raw, 2 do
  entries[#entries + 1] = {raw[i], tonumber(raw[i + 1])}
end
table.sort(entries, function(a, b)
  if a[2] ~= b[2] then
    return a[2] > b[2]
  end
  return a[1] < b[1]
end)

local answer = {}
for i = 1, math.min(limit, #entries) do
  local page, views = entries[i][1], entries[i][2]
  answer[#answer + 1] = page
  answer[#answer + 1] = tostring(views)
  answer[#answer + 1] = redis.call('HGET', KEYS[1], page) or ''
  answer[#answer + 1] = redis.call('HGET', KEYS[2], page) or ''
end
return answer
