"""The write path: a batch of hits counted by record_hits.lua in one round trip, at most once."""

from __future__ import annotations

import hashlib
import time
from datetime import date
from zoneinfo import ZoneInfo

import msgpack
from redis.exceptions import NoScriptError

from ..model.hits import Hit, Outcome
from ..ops import metrics
from ..errors import RedisReplyError
from . import keys
from .replies import redis_errors
from .scripts import script_source

REPLIED = {outcome.value.encode(): outcome for outcome in Outcome}
"""An outcome as record_hits.lua answers it (bytes) -> the Outcome."""



class WritesMixin:
    """Counting hits and the hits turned away."""

    def _init_writes(self) -> None:
        self._lua = script_source("record_hits.lua")
        self._sha = hashlib.sha1(self._lua.encode()).hexdigest()

    def record_hits(self, hits: list[Hit], batch_id: str, drops: dict | None = None) -> list[Outcome]:
        """Count hits in one round trip, at most once per ``batch_id``; answer each one's outcome.

        One script call per site and local day (a batch may straddle midnight), each under
        its own marker, all in one pipeline. Outcomes are those of record_hits.lua, or 'duplicate' for hits of a
        batch already written.
        """
        groups: dict[tuple[str, str, date], list[int]] = {}
        for index, hit in enumerate(hits):
            groups.setdefault((hit.site, hit.timezone, hit.local_day()), []).append(index)
        limits = self.limits
        shared = (limits.online_window_seconds * 1000, limits.visit_timeout_seconds * 1000,
                  limits.visitor_hits_per_minute, keys.BATCH_MARKER_SECONDS, limits.address_hits_per_minute)
        calls = []
        for number, ((site, zone, day), indexes) in enumerate(groups.items()):
            day_keys = keys.for_day(site, ZoneInfo(zone), day)
            marker = keys.batch_marker(site, f"{batch_id}:{number}")  # a retry groups the same way
            group = [hits[index] for index in indexes]
            at_ms = [int(hit.at.timestamp() * 1000) for hit in group]
            names = [marker, day_keys.config, day_keys.online, day_keys.history, day_keys.visitors, day_keys.total,
                     day_keys.pages, day_keys.pages_before, day_keys.pages_all, day_keys.titles, day_keys.not_counted,
                     day_keys.links, *[day_keys.session(hit.visitor) for hit in group]]
            if limits.address_hits_per_minute:  # the script reads these only to apply that limit
                names += [day_keys.address_minute(hit.client, ms // 60000) for hit, ms in zip(group, at_ms)]
            newest = max(at_ms) // 1000
            args = [*shared, *day_keys.fields, max(60, day_keys.visitors_deadline - newest),
                    limits.pages_per_day, max(60, day_keys.pages_deadline - newest), keys.PAGES_KEPT_PER_PAST_DAY,
                    max(60, day_keys.not_counted_deadline - newest), pack_hits(group, at_ms)]
            calls.append((names, args))
        try:
            with redis_errors("record", self.log_reply_error):
                replies = self._evalsha_all(calls, self._drop_commands(drops or {}, hits))
        except RedisReplyError as exc:
            if exc.kind == "readonly" and not self.is_cluster:
                # A failover demoted this node: new connections find the master again (Sentinel
                # asks for it; a DNS name may point elsewhere by now).
                self.redis.connection_pool.disconnect()
            raise
        outcomes = [""] * len(hits)
        for (site, _, day), indexes, reply in zip(groups, groups.values(), replies):
            if isinstance(reply, bytes):  # 'duplicate': written before; 'unknown_site': removed meanwhile
                for index in indexes:
                    outcomes[index] = REPLIED[reply]
                continue
            per_hit, over_cap = reply
            for position, index in enumerate(indexes):
                outcomes[index] = REPLIED[per_hit[position]]
            if over_cap:
                metrics.PAGES_OVER_CAP.inc(over_cap)
                self.pages_over_cap[site] = day
        return outcomes

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


    def _evalsha_all(self, calls: list[tuple[list, list]], extra: list[tuple] = ()) -> list:
        """Run record_hits.lua once per call, and the ``extra`` commands once, in one round trip.

        EVALSHA straight away (no SCRIPT EXISTS first); on NOSCRIPT (a restarted or new node)
        the script is loaded and only the calls are repeated: their batch markers make that
        safe, and the extra commands (which have no marker) have run already.
        """
        if self.is_cluster:
            # Redis Cluster pipelines refuse EVALSHA: one call per site, each one round trip.
            replies = [self._evalsha_retrying(names, args) for names, args in calls]
            if extra:
                pipe = self.redis.pipeline(transaction=False)
                for command in extra:
                    pipe.execute_command(*command)
                pipe.execute()
            return replies
        pipe = self.redis.pipeline(transaction=False)
        for names, args in calls:
            pipe.evalsha(self._sha, len(names), *names, *args)
        for command in extra:
            pipe.execute_command(*command)
        everything = pipe.execute(raise_on_error=False) if calls or extra else []
        replies = everything[:len(calls)]
        if any(isinstance(r, NoScriptError) for r in replies):
            self.redis.script_load(self._lua)
            return self._evalsha_all(calls)
        for result in everything:
            if isinstance(result, Exception):
                raise result
        return replies

    def _evalsha_retrying(self, names: list, args: list):
        try:
            return self.redis.evalsha(self._sha, len(names), *names, *args)
        except NoScriptError:
            self.redis.script_load(self._lua)  # on Redis Cluster: on every primary
            return self.redis.evalsha(self._sha, len(names), *names, *args)


def pack_hits(hits: list[Hit], at_ms: list[int]) -> bytes:
    """Pack the per-hit fields of record_hits.lua (its ARGV[14]) as MessagePack, one column per field."""
    return msgpack.packb(([hit.visitor for hit in hits], at_ms, [hit.kind for hit in hits], [hit.page for hit in hits],
                          [hit.title for hit in hits], [hit.link for hit in hits]))
