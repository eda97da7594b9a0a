"""Imported baselines: a site's all-time numbers and its pages' views, each with an audit trail."""

from __future__ import annotations

import json

from . import keys
from .replies import redis_errors
from .scripts import script_source

METRICS = ("visits", "pageviews", "visitors")
BASELINE_LOG_LENGTH = 100
"""Baseline audit entries kept per site."""


def _int(value) -> int:
    return int(value) if value is not None else 0


class BaselinesMixin:
    """Baselines of sites and pages."""

    def _init_baselines(self) -> None:
        self._set_page_baselines = self.redis.register_script(script_source("set_page_baselines.lua"))

    def set_page_baselines(self, site_id: str, rows: list[tuple[str, int]]) -> int:
        """Replace the baseline views of these pages (one script call); answer how many changed."""
        with redis_errors("pages", self.log_reply_error):
            return int(self._set_page_baselines(
                keys=[keys.page_baseline(site_id), keys.pages_all(site_id), keys.page_titles(site_id),
                      keys.page_links(site_id), keys.pages_floor(site_id)],
                args=[self.limits.pages_all_time, *(value for row in rows for value in row)]))

    def log_page_baseline(self, site_id: str, audit: dict) -> None:
        """Record one page baseline import in the site's audit trail (newest first, bounded)."""
        with redis_errors("pages", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.lpush(keys.page_baseline_log(site_id), json.dumps(audit, sort_keys=True, ensure_ascii=False))
            pipe.ltrim(keys.page_baseline_log(site_id), 0, BASELINE_LOG_LENGTH - 1)
            pipe.execute()

    def page_baseline_log(self, site_id: str) -> list[dict]:
        with redis_errors("pages", self.log_reply_error):
            return [json.loads(e) for e in self.redis.lrange(keys.page_baseline_log(site_id), 0, -1)]

    def set_baseline(self, site_id: str, values: dict[str, int], audit: dict) -> dict[str, int]:
        """Replace a site's imported baseline (idempotent) and log who set it, when and why."""
        mapping = {m: int(values.get(m, 0)) for m in METRICS}
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(keys.baseline(site_id), mapping=mapping)
            pipe.lpush(keys.baseline_log(site_id), json.dumps({**audit, **mapping}, sort_keys=True))
            pipe.ltrim(keys.baseline_log(site_id), 0, BASELINE_LOG_LENGTH - 1)
            pipe.execute()
        return mapping

    def get_baseline(self, site_id: str) -> tuple[dict[str, int], list[dict]]:
        """The current baseline and its audit trail, newest first."""
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.hmget(keys.baseline(site_id), METRICS)
            pipe.lrange(keys.baseline_log(site_id), 0, -1)
            current, log = pipe.execute()
        return {m: _int(v) for m, v in zip(METRICS, current)}, [json.loads(e) for e in log]

