"""Groups of sites (a province and its districts): settings, members, their readers and counters.

A group's keys carry the hash tag ``{g:<group>}``, so they share one slot, and no site's. Its
readers (a HyperLogLog a day, the online set) are written by ``record_group.lua`` in the same
pipeline, so the same round trip, as the members' ``record_hits`` calls, but as a call of its own:
on Redis Cluster one script cannot touch a site's slot and the group's. Visits and pageviews are
not written for the group at all: they are the members' own, summed when read.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..model import periods
from ..model.hits import Hit
from . import keys
from .replies import redis_errors
from .scripts import script_source

METRICS = ("visits", "pageviews", "visitors")
GROUP_SCRIPT = script_source("record_group.lua")
GROUP_SCRIPT_SHA = hashlib.sha1(GROUP_SCRIPT.encode()).hexdigest()


class GroupsMixin:
    """Groups: their settings, members and readers."""

    def put_group(self, group: str, timezone: str, label: str) -> bool:
        """Set a group's zone and label; True when the group had no settings before."""
        with redis_errors("site", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.exists(keys.group_config(group))
            pipe.hset(keys.group_config(group), mapping={"timezone": timezone, "label": label})
            existed, _ = pipe.execute()
        return not existed

    def get_group(self, group: str) -> tuple[dict | None, list[str]]:
        """A group's settings (None when never set) and its member ids, sorted: one round trip."""
        with redis_errors("site", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.hgetall(keys.group_config(group))
            pipe.smembers(keys.group_members(group))
            config, members = pipe.execute()
        settings = {k.decode(): v.decode() for k, v in config.items()} if config else None
        return settings, sorted(m.decode() for m in members)

    def group_labels(self, groups: list[str]) -> list[str]:
        """The label of each group ('' for none): one round trip."""
        if not groups:
            return []
        with redis_errors("site", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            for group in groups:
                pipe.hget(keys.group_config(group), "label")
            return [label.decode() if label else "" for label in pipe.execute()]

    def group_zones(self, groups: list[str]) -> list[str | None]:
        """The zone of each group (None for one whose settings were never set): one round trip."""
        with redis_errors("site", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            for group in groups:
                pipe.hget(keys.group_config(group), "timezone")
            return [z.decode() if z else None for z in pipe.execute()]

    def _group_commands(self, hits: list[Hit]) -> list[tuple]:
        """One EVALSHA of record_group.lua per (group, local day) of the batch's hits that belong to a group.

        Among the round trip's extra commands: after a NOSCRIPT, writes.py loads the script and repeats
        those that failed (record_group.lua is idempotent).
        """
        batches: dict[tuple[str, str, object], list[Hit]] = {}
        for hit in hits:
            if hit.group and hit.group_visitor:
                day = periods.local_day(hit.at, ZoneInfo(hit.group_zone))
                batches.setdefault((hit.group, hit.group_zone, day), []).append(hit)
        if not batches:
            return []
        commands = []
        for (group, zone, day), members in batches.items():
            newest = max(int(h.at.timestamp()) for h in members)
            ttl = max(60, keys.visitors_deadline(day, ZoneInfo(zone)) - newest)
            args = [keys.day_field(day, "u"), self.limits.online_window_seconds * 1000, ttl]
            for h in members:
                args += [int(h.at.timestamp() * 1000), h.group_visitor, 0 if h.kind == "ping" else 1]
            commands.append(("EVALSHA", GROUP_SCRIPT_SHA, 4, keys.group_visitors(group, day), keys.group_online(group),
                             keys.group_history(group, day), keys.group_total(group), *args))
        return commands

    def read_group_counters(self, group: str, zone: str, members: list[str], now: datetime,
                            week_start: int) -> dict:
        """A group's counters: visits and pageviews summed over ``members``, visitors and online as
        distinct readers across them, days in the group's ``zone``: one round trip."""
        tz = ZoneInfo(zone)
        today = periods.local_day(now, tz)
        yesterday = today - timedelta(days=1)
        week = periods.week_days(today, week_start)
        month = periods.month_days(today)
        days = sorted({yesterday, *week, *month})
        with redis_errors("counters", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.zcount(keys.group_online(group), int(now.timestamp() * 1000) - self.limits.online_window_seconds * 1000,
                        "+inf")
            group_months = self._queue_days(pipe, group, days, history=keys.group_history)
            pipe.hget(keys.group_total(group), "visitors")
            member_months = [self._queue_days(pipe, member, days) for member in members]
            for member in members:
                pipe.hmget(keys.total(member), METRICS)
                pipe.hmget(keys.baseline(member), METRICS)
            replies = pipe.execute()
        online, replies = replies[0], replies[1:]
        readers = self._merge_days(days, replies[:group_months])
        group_total, replies = replies[group_months], replies[group_months + 1:]
        numbers = {d: {m: 0 for m in METRICS} for d in days}
        for count in member_months:
            for d, row in self._merge_days(days, replies[:count]).items():
                for m in ("visits", "pageviews"):
                    numbers[d][m] += row[m]
            replies = replies[count:]
        for d in days:
            numbers[d]["visitors"] = readers[d]["visitors"]
        total = {m: 0 for m in METRICS}
        for n in range(len(members)):
            counted, base = replies[2 * n], replies[2 * n + 1]
            for i, m in enumerate(METRICS):
                total[m] += (int(counted[i] or 0) if m != "visitors" else 0) + int(base[i] or 0)
        total["visitors"] += int(group_total or 0)
        return {"online": int(online), "today": numbers[today], "yesterday": numbers[yesterday],
                "week": {m: sum(numbers[d][m] for d in week) for m in METRICS},
                "month": {m: sum(numbers[d][m] for d in month) for m in METRICS}, "total": total}
