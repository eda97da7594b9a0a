"""Per-visit breakdowns of local days: sources (channel and name), devices, apps, browsers and OS."""

from __future__ import annotations

from collections import Counter
from datetime import date

from ..model.sites import Site
from . import keys
from .replies import redis_errors


class BreakdownsMixin:
    """Reading the day hashes that record_hits/50_sources_devices.lua writes."""

    def read_breakdowns(self, site: Site, days: list[date]) -> dict[str, Counter]:
        """Visits over ``days`` by source ("channel|name"), device, app, browser and OS, in one round trip."""
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            for day in days:
                for kind in keys.DETAILS:
                    pipe.hgetall(keys.detail(site.id, kind, day))
            found = pipe.execute() if days else []
        sums = {"sources": Counter(), "devices": Counter(), "apps": Counter(), "browsers": Counter(),
                "os": Counter()}
        for index, row in enumerate(found):
            kind = keys.DETAILS[index % len(keys.DETAILS)]
            for field, visits in row.items():
                name, visits = field.decode(errors="replace"), int(visits)
                if kind == "src":
                    sums["sources"][name] += visits
                elif kind == "dev":
                    sums["devices" if name.startswith("d|") else "apps"][name[2:]] += visits
                else:
                    sums["browsers" if kind == "br" else "os"][name] += visits
        return sums
