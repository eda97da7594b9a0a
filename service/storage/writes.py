"""The write path: a batch of hits counted by record_hits.lua in one round trip, at most once.

With Sentinel a batch counts as written only once a replica has it too: the round trip ends with
``WAIT <replicas> <ms>`` (after touching the batch markers, so a batch answered 'duplicate' waits for
the marker written by an earlier attempt too: the replication stream is in order). A batch no
replica confirmed raises Unconfirmed and is retried under the same id: if its marker reached the
master that survives, the retry counts nothing; if a resync discarded it, the batch was discarded
whole and is written again. See docs/durability.md.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import date
from zoneinfo import ZoneInfo

import msgpack
from redis.exceptions import NoScriptError

from ..model.hits import SCRIPT_COLUMNS, Hit, Outcome
from ..ops import metrics
from ..errors import RedisReplyError, StorageUnavailable, Unconfirmed
from . import keys
from .replies import redis_errors
from .round_trip import round_trip
from .groups import GROUP_SCRIPT
from .scripts import script_parts

REPLIED = {outcome.value.encode(): outcome for outcome in Outcome}
"""An outcome as record_hits.lua answers it (bytes) -> the Outcome."""
CONFIRM_REPLICAS = 1
"""With Sentinel, replicas that must have a batch before it counts as written (CONFIRM_REPLICAS setting)."""
ALONE_LOG_SECONDS = 60.0
"""A master written without a replica to confirm is logged at WARNING at most this often per process."""

log = logging.getLogger(__name__)



class WritesMixin:
    """Counting hits and the hits turned away."""

    def _init_writes(self) -> None:
        self._lua = record_hits_source()
        self._sha = hashlib.sha1(self._lua.encode()).hexdigest()
        self.sentinel = getattr(self.redis, "va_sentinel", None)
        """The SentinelFollower of a redis+sentinel:// store, else None (no confirmation asked)."""
        self.confirm_replicas = CONFIRM_REPLICAS
        pool = getattr(self.redis, "connection_pool", None)  # a RedisCluster has one per node (and no WAIT here)
        timeout = (pool.connection_kwargs.get("socket_timeout") if pool else None) or 0.25
        self.confirm_timeout_ms = max(10, int(timeout * 500))
        """WAIT's timeout: half the read timeout, so a slow replica is told apart from a dead master."""
        self._alone_logged = -ALONE_LOG_SECONDS

    def _replicas_to_confirm(self) -> tuple[int, tuple[str, int] | None]:
        """Replicas WAIT asks for before this batch, and the master Sentinel names (None without Sentinel).

        CONFIRM_REPLICAS, fewer only while a majority of the sentinels, naming that master, see fewer up.
        """
        if self.sentinel is None or self.confirm_replicas <= 0:
            return 0, None
        with redis_errors("record", self.log_reply_error):
            (host, port), up = self.sentinel.check()
        if up is None or up >= self.confirm_replicas:
            return self.confirm_replicas, (host, port)
        if time.monotonic() - self._alone_logged >= ALONE_LOG_SECONDS:
            self._alone_logged = time.monotonic()
            log.warning("Sentinel sees %d healthy replica(s) of %s (master %s:%s), CONFIRM_REPLICAS is %d: "
                        "batches are confirmed by %s until replicas are back", up, self.sentinel.service_name,
                        host, port, self.confirm_replicas, f"{up} replica(s)" if up else "the master alone")
        return up, (host, port)

    def record_hits(self, hits: list[Hit], batch_id: str, drops: dict | None = None) -> list[Outcome]:
        """Count hits in one round trip, at most once per ``batch_id``; answer each one's outcome.

        The hits are grouped by site and local day (a batch may straddle midnight), each group under
        its own marker, and counted by one script call (on Cluster one per group, each its own round
        trip). Outcomes are those of record_hits.lua, or 'duplicate' for hits of a group already written.
        """
        groups: dict[tuple[str, str, date], list[int]] = {}
        for index, hit in enumerate(hits):
            groups.setdefault((hit.site, hit.timezone, hit.local_day()), []).append(index)
        limits = self.limits
        shared = {"online_window_ms": limits.online_window_seconds * 1000,
                  "visit_timeout_ms": limits.visit_timeout_seconds * 1000,
                  "visitor_hits_per_minute": limits.visitor_hits_per_minute, "marker_seconds": keys.BATCH_MARKER_SECONDS,
                  "address_hits_per_minute": limits.address_hits_per_minute, "pages_per_day": limits.pages_per_day,
                  "pages_all_time": limits.pages_all_time, "sources_per_day": limits.sources_per_day,
                  "detail_kept_per_past_day": keys.DETAIL_KEPT_PER_PAST_DAY,
                  "pages_kept_per_past_day": keys.PAGES_KEPT_PER_PAST_DAY}
        numbered = [(number, *group) for number, group in enumerate(groups.items())]
        if self.is_cluster:  # one call per group, each on its site's node
            parts = [[group] for group in numbered]
        else:  # one call for the whole batch (none for a batch left with no hits)
            parts = [numbered] if numbered else []
        calls = [self._script_call(batch_id, part, hits, shared) for part in parts]
        confirm, master = self._replicas_to_confirm()
        try:
            with redis_errors("record", self.log_reply_error):
                # The hits' groups' readers ride in the same round trip (storage/groups.py).
                replies = self._evalsha_all(calls, self._drop_commands(drops or {}, hits) + self._group_commands(hits),
                                            confirm, master)
        except (RedisReplyError, StorageUnavailable) as exc:
            if self.sentinel is not None:
                self.sentinel.forget()  # the retry asks Sentinel where the master is now
            if isinstance(exc, RedisReplyError) and exc.kind == "readonly" and not self.is_cluster:
                # A failover demoted this node: new connections find the master again (Sentinel
                # asks for it; a DNS name may point elsewhere by now).
                self.redis.connection_pool.disconnect()
            raise
        outcomes = [""] * len(hits)
        replies = [reply for call in replies for reply in call]  # one per group, in groups' order
        for (site, _, day), indexes, reply in zip(groups, groups.values(), replies):
            if isinstance(reply, bytes):  # 'duplicate': written before; 'unknown_site': removed meanwhile
                for index in indexes:
                    outcomes[index] = REPLIED[reply]
                continue
            per_hit, over_cap, pushed_out = reply
            for position, index in enumerate(indexes):
                outcomes[index] = REPLIED[per_hit[position]]
            if over_cap:
                metrics.PAGES_OVER_CAP.inc(over_cap)
                self.pages_over_cap[site] = day
            if pushed_out:
                metrics.PAGES_PUSHED_OUT.inc(pushed_out)
        return outcomes

    def _script_call(self, batch_id: str, numbered: list, hits: list[Hit], shared: dict) -> tuple[list, list]:
        """KEYS and ARGV of one record_hits.lua call over ``numbered`` groups, (number, (site, zone, day),
        hit indexes): each group's marker and day keys, then every hit's session (and address) key;
        the shared arguments, each group's own, then the hits, packed in group order."""
        limits = self.limits
        names, group_args, group_hits, at_ms, sessions, addresses = [], [], [], [], [], []
        for number, (site, zone, day), indexes in numbered:
            day_keys = keys.for_day(site, ZoneInfo(zone), day, limits.detail_days)
            group = [hits[index] for index in indexes]
            group_ms = [int(hit.at.timestamp() * 1000) for hit in group]
            newest = max(group_ms) // 1000
            # The marker is the group's: a retry groups the same way, and a group written before counts nothing.
            names += [keys.batch_marker(site, f"{batch_id}:{number}"), *day_keys.names]
            group_args += [*day_keys.fields, len(group), *(max(60, deadline - newest) for deadline in day_keys.deadlines)]
            group_hits += group
            at_ms += group_ms
            sessions += [day_keys.session(hit.visitor) for hit in group]
            if limits.address_hits_per_minute:  # the script reads these only to apply that limit
                addresses += [day_keys.address_minute(hit.client, ms // 60000) for hit, ms in zip(group, group_ms)]
        return names + sessions + addresses, [*(shared[name] for name in SCRIPT_ARGS), len(numbered), *group_args, pack_hits(group_hits, at_ms)]

    @staticmethod
    def _drop_commands(drops: dict, hits: list[Hit]) -> list[tuple]:
        """HINCRBY/EXPIRE commands counting hits turned away at once, keyed (site, zone, day) -> {reason: n}."""
        if not drops:
            return []  # most batches: no newest hit time to look for
        newest = int(max(h.at.timestamp() for h in hits)) if hits else int(time.time())
        commands = []
        for (site, zone, day), reasons in drops.items():
            key = keys.not_counted(site, day)
            for reason, count in reasons.items():
                commands.append(("HINCRBY", key, str(reason), count))
            commands.append(("EXPIRE", key, max(60, keys.not_counted_deadline(day, ZoneInfo(zone)) - newest), "NX"))
        return commands

    def record_drops(self, drops: dict) -> None:
        """Count hits turned away at once (bots, prefetches, other domains...) per site and day."""
        commands = self._drop_commands(drops, [])
        if commands:
            with redis_errors("record", self.log_reply_error):
                self._evalsha_all([], commands)


    def _evalsha_all(self, calls: list[tuple[list, list]], extra: list[tuple] = (), confirm: int = 0,
                     master: tuple[str, int] | None = None, reloaded: bool = False) -> list:
        """Run record_hits.lua once per call, and the ``extra`` commands once, in one round trip.

        EVALSHA straight away (no SCRIPT EXISTS first); on NOSCRIPT (a restarted or new node)
        the scripts are loaded and the calls repeated (their batch markers make that safe) with
        only the extra commands that failed so (record_group.lua's, idempotent): the others,
        which have no marker, have run already. With ``confirm``,
        the round trip ends with the markers touched and WAIT for that many replicas, or
        raises Unconfirmed. With ``master`` (Sentinel's), it also raises Unconfirmed when the round
        trip's connection reached another server: the replica count was chosen for that master.
        """
        if self.is_cluster:
            # Redis Cluster pipelines refuse EVALSHA: one call per site, each one round trip.
            replies = [self._evalsha_retrying(names, args) for names, args in calls]
            if extra:
                pipe = self.redis.pipeline(transaction=False)
                for command in extra:  # with the group script's text: EVALSHA is refused here too
                    pipe.execute_command(*(("EVAL", GROUP_SCRIPT, *command[2:]) if command[0] == "EVALSHA" else command))
                pipe.execute()
            return replies
        commands = [("EVALSHA", self._sha, len(names), *names, *args) for names, args in calls]
        commands += extra
        if confirm and calls:
            # A write after the batch's, so that WAIT also covers a marker an earlier attempt wrote.
            # Each group's marker leads its GROUP_KEYS names; the call's groups are counted in its ARGV.
            commands += [("PEXPIRE", marker, keys.BATCH_MARKER_SECONDS * 1000) for names, args in calls
                         for marker in names[:args[len(SCRIPT_ARGS)] * GROUP_KEYS:GROUP_KEYS]]
            commands.append(("WAIT", confirm, self.confirm_timeout_ms))
        if not commands:
            return []
        pool = self.redis.connection_pool
        # With Sentinel, our own connection, to see afterwards where it went (a reconnect asks the sentinels again).
        connection = pool.get_connection() if master is not None and calls else None
        everything = round_trip(pool, commands, connection)
        replies = everything[:len(calls)]
        if connection is not None and (connection.host, int(connection.port)) != tuple(master):
            metrics.REDIS_ERRORS.labels(operation="record", kind="unconfirmed").inc()
            raise Unconfirmed(f"the batch reached {connection.host}:{connection.port}, not the master Sentinel "
                              f"names for {self.sentinel.service_name} ({master[0]}:{master[1]})")
        if not reloaded and any(isinstance(r, NoScriptError) for r in everything):
            self.redis.script_load(self._lua)
            self.redis.script_load(GROUP_SCRIPT)
            again = [command for command, reply in zip(extra, everything[len(calls):]) if isinstance(reply, NoScriptError)]
            return self._evalsha_all(calls, again, confirm=confirm, master=master, reloaded=True)
        for result in everything:
            if isinstance(result, Exception):
                raise result
        if confirm and calls and everything[-1] < confirm:
            metrics.REDIS_ERRORS.labels(operation="record", kind="unconfirmed").inc()
            host, port = self.sentinel.master or ("?", "?")
            raise Unconfirmed(f"{everything[-1]} of {confirm} replica(s) of {self.sentinel.service_name} "
                              f"(master {host}:{port}) confirmed the batch within {self.confirm_timeout_ms} ms")
        return replies

    def _evalsha_retrying(self, names: list, args: list):
        try:
            return self.redis.evalsha(self._sha, len(names), *names, *args)
        except NoScriptError:
            self.redis.script_load(self._lua)  # on Redis Cluster: on every primary
            return self.redis.evalsha(self._sha, len(names), *names, *args)


COLUMN_INDEXES = tuple((name, Hit._fields.index(name)) for name in SCRIPT_COLUMNS)
"""Each script column's name and its Hit field's position (a column is one row of the transposed hits)."""


def pack_hits(hits: list[Hit], at_ms: list[int]) -> bytes:
    """The batch's hits as record_hits.lua reads them (``A.hits``): a MessagePack map of SCRIPT_COLUMNS,
    one column (a value per hit) each."""
    fields = tuple(zip(*hits))  # transposed in C: a tuple of every hit's value per Hit field
    return msgpack.packb({name: at_ms if name == "at" else fields[index] for name, index in COLUMN_INDEXES})


SCRIPT_ARGS = ("online_window_ms", "visit_timeout_ms", "visitor_hits_per_minute", "marker_seconds",
               "address_hits_per_minute", "pages_per_day", "pages_all_time", "sources_per_day",
               "detail_kept_per_past_day", "pages_kept_per_past_day")
"""record_hits.lua's first ARGV, shared by every group of a call (``A.<name>``); then the number of
groups, each group's GROUP_ARGS, and last the hits (``A.hits``, see pack_hits)."""
GROUP_ARGS = ("visits_field", "pageviews_field", "visitors_field", "count")
"""A group's own ARGV (``G.A.<name>``; ``count``, its hits, is ``G.count``), then one lifetime per
keys.EXPIRING_DAY_KEYS (``G.TTL.<name>``, seconds)."""
GROUP_KEYS = 1 + len(keys.DAY_KEYS)
"""KEYS per group: its batch marker, then keys.DAY_KEYS."""


def script_prelude() -> str:
    """The Lua lines that name record_hits.lua's KEYS and ARGV, generated from the lists above."""
    day, expiring = keys.DAY_KEYS, keys.EXPIRING_DAY_KEYS
    groups_at = len(SCRIPT_ARGS) + 1
    per_group = len(GROUP_ARGS) + len(expiring)
    own = [f"{name} = ARGV[a + {n}]" for n, name in enumerate(GROUP_ARGS) if name != "count"]
    lines = ["-- Generated by storage/writes.py from keys.DAY_KEYS, SCRIPT_ARGS, GROUP_ARGS and SCRIPT_COLUMNS.",
             "local A = {" + ", ".join(f"{name} = ARGV[{n}]" for n, name in enumerate(SCRIPT_ARGS, 1)) + "}",
             f"local GROUPS = tonumber(ARGV[{groups_at}])",
             f"A.hits = ARGV[{groups_at + 1} + GROUPS * {per_group}]",
             f"local HIT_KEYS = GROUPS * {GROUP_KEYS}  -- KEYS[HIT_KEYS + i]: hit i's session; then the addresses",
             "-- Group g (1-based) of the call, whose hits follow the ``first`` hits of the groups before it.",
             "local function group(g, first)",
             f"  local k, a = (g - 1) * {GROUP_KEYS}, {groups_at + 1} + (g - 1) * {per_group}",
             "  return {index = g, first = first, count = tonumber(ARGV[a + " + str(GROUP_ARGS.index("count")) + "]),",
             "    K = {marker = KEYS[k + 1]" + "".join(f", {key.name} = KEYS[k + {n}]" for n, key in enumerate(day, 2)) + "},",
             "    A = {" + ", ".join(own) + "},",
             "    TTL = {" + ", ".join(f"{key.name} = ARGV[a + {n}]" for n, key in enumerate(expiring, len(GROUP_ARGS)))
             + "}}",
             "end"]
    return "\n".join(lines + type_checks()) + "\n"


TYPE_PROBES = {"hash": "HLEN", "zset": "ZCARD", "hll": "PFCOUNT"}
"""A read that fails on a key of any other type, per type: its integer reply (0: no such key) is also
the key's size, which the writers use (SIZES) instead of asking again."""
TYPE_NAMES = {"hll": "HyperLogLog"}
"""How an error reply names a type that Redis does not (a HyperLogLog is a string to Redis)."""


def type_checks() -> list[str]:
    """``check_types(K, when)``, unrolled from keys.DAY_KEYS: probe each of a group's keys ``K`` that it will
    write (its ``written`` is true in ``when``); a key of the wrong type is an error reply naming it, before
    any write. A key read already (SIZES) by a command of its type is not asked again."""
    lines = ["local SIZES = {}  -- key -> its length (HLEN, ZCARD; PFCOUNT for a HyperLogLog) before the call's",
             "                  -- writes, then grown by the writers that add to it: never less than it is",
             "local function probe(command, key, wanted)",
             "  if SIZES[key] ~= nil then",
             "    return nil",
             "  end",
             "  local reply = redis.pcall(command, key)",
             "  if type(reply) == 'table' and reply.err then",
             "    return redis.error_reply('WRONGTYPE ' .. key .. ' is not a ' .. wanted)",
             "  end",
             "  SIZES[key] = reply",
             "end",
             "local function check_types(K, when)",
             "  local wrong"]
    for written in dict.fromkeys(k.written for k in keys.DAY_KEYS if k.written != "never"):
        probes = " or ".join(f"probe('{TYPE_PROBES[k.type]}', K.{k.name}, '{TYPE_NAMES.get(k.type, k.type)}')"
                             for k in keys.DAY_KEYS if k.written == written)
        lines += [f"  if when.{written} then", f"    wrong = {probes}", "    if wrong then return wrong end", "  end"]
    return lines + ["end"]


def record_hits_source() -> str:
    """record_hits.lua: the shebang, the generated prelude, then the parts in lua/record_hits/ in name order."""
    return "#!lua\n" + script_prelude() + "".join(script_parts("record_hits"))
