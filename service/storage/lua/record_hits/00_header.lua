-- record_hits: count a batch of hits, grouped by site and local day, atomically; each group at most once.
--
-- The script is this folder's parts joined in name order after a prelude that storage/writes.py
-- generates: A.<name> the arguments every group shares (writes.SCRIPT_ARGS), GROUPS the number of
-- groups, and group(g, first) group g's table G: G.K.<name> its keys (its batch marker, then
-- keys.DAY_KEYS), G.A.<name> its own arguments (writes.GROUP_ARGS), G.TTL.<name> the seconds an
-- expiring key must still live, G.count its hits, which are hits first + 1 .. first + count of
-- A.hits, a MessagePack map of columns (model.hits.SCRIPT_COLUMNS): hits.<field>[i]. After every
-- group's keys, KEYS[HIT_KEYS + i] is hit i's session ("<last hit ms>:<minute>:<hits in that
-- minute>") and, when A.address_hits_per_minute sets a limit, KEYS[HIT_KEYS + #hits + i] its
-- client address's hits in this minute (the address hashed like visitors). check_types(K, when)
-- probes the types of a group's keys.
--
-- One call per batch: what a call costs (the round trip's parsing, the script's start, the hits'
-- unpacking, the sessions' read) is paid once, however many sites the batch spreads over. On Redis
-- Cluster the sites' keys live on different nodes: there, writes.py calls it once per group.
--
-- Every key is passed in KEYS (built by service/storage/keys.py), the per-hit ones too, although
-- they share their site's {site} hash tag (so its slot): Redis's EVAL docs ask for every key a
-- script touches to be declared, Cluster routes the call and checks a slot being migrated by the
-- declared keys, and ACL key patterns and servers that lock keys by KEYS rely on them too. The
-- shebang (Redis >= 7.0, Valkey) declares a writing script: Redis refuses it before it runs when
-- it is out of memory or a read-only replica, so a batch is never half applied.
--
-- Returns an error reply, or one reply per group: 'duplicate' (its marker says it was written
-- before), 'unknown_site', or {outcomes, pages over the cap, pages pushed out}: one outcome per hit,
-- 'visit' (a new visit began), 'pageview', 'ping', 'rate_limited' (one visitor refreshing too fast)
-- or 'ip_limited' (one address flooding); then how many counted pageviews went to pages new to a
-- day already at its cap (counted for the site, not per page); then how many pages the all-time set
-- let go to stay within A.pages_all_time. A key of the wrong type is an error reply raised before
-- any write, of any group.
--
-- Two phases: every group's reads and checks first (10_checks, 20_hits: sessions and address
-- counters are read once for the call and then followed in Lua tables, so two groups of one site,
-- a batch across midnight, see each other's hits as if one by one; 25_types: the types of the keys
-- each group will write), every write after (30_ onwards: each part adds a writer, function(G),
-- to WRITERS), with commands that cannot fail on keys already checked. Lifetimes are relative (PX,
-- EXPIRE), measured from the hit: the service's clock picks the period, and a Redis whose clock
-- disagrees never drops a key early. A part that breaks a visit down (a source, a device) reads
-- G.visit_hits (the indexes of the group's hits that began a visit) in its writer.

local window, timeout, cap = tonumber(A.online_window_ms), tonumber(A.visit_timeout_ms), tonumber(A.visitor_hits_per_minute)
local address_cap = tonumber(A.address_hits_per_minute)
local CHUNK = 500  -- arguments per variadic call, well under Lua's stack limit (even: pairs stay whole)
local WRITERS = {}  -- phase 2: function(G) of each part from 30_ on, run in name order for each group

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

-- Columns, not one array per hit: a few tables however many hits there are.
local hits = cmsgpack.unpack(A.hits)
local hit_total = #hits.at
