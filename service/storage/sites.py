"""Site settings in Redis: read, write, delete (with purge), list."""

from __future__ import annotations

import json

from ..model.sites import Site
from . import keys
from .replies import redis_errors


class SitesMixin:
    """Registered sites."""

    def get_site(self, site_id: str) -> Site | None:
        """Read a site's settings, or None when it is not registered."""
        return self.get_sites([site_id])[0]

    def get_sites(self, site_ids: list[str]) -> list[Site | None]:
        """Read the settings of many sites in one round trip (None for one not registered)."""
        if not site_ids:
            return []
        with redis_errors("site", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            for site_id in site_ids:
                pipe.hgetall(keys.config(site_id))
            found = pipe.execute()
        return [_site(site_id, raw) if raw else None for site_id, raw in zip(site_ids, found)]

    def put_site(self, site: Site) -> bool:
        """Create or replace a site's settings; True when it was created."""
        with redis_errors("site", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.exists(keys.config(site.id))
            pipe.hset(keys.config(site.id), mapping={
                "domains": json.dumps(list(site.domains)), "timezone": site.timezone,
                "page_params": json.dumps(list(site.page_params))})
            pipe.sadd(keys.SITES, site.id)
            existed, _, _ = pipe.execute()
        return not existed

    def delete_site(self, site_id: str, purge: bool = False) -> bool:
        """Remove a site's settings (and with ``purge`` all its data); False when nothing was there."""
        with redis_errors("site", self.log_reply_error):
            existed = bool(self.redis.delete(keys.config(site_id)))
            self.redis.srem(keys.SITES, site_id)
        self.forget_site_credentials(site_id)  # credentials die with the site, purged or not
        with redis_errors("site", self.log_reply_error):
            if purge:
                # Also for a site removed earlier without purge: its numbers are still kept.
                pattern = keys.site_prefix(site_id).replace("{", "\\{").replace("}", "\\}") + ":*"
                batch: list = []
                for key in self.redis.scan_iter(match=pattern, count=500):
                    batch.append(key)
                    if len(batch) >= 500:
                        existed = bool(self.redis.delete(*batch)) or existed
                        batch.clear()
                if batch:
                    existed = bool(self.redis.delete(*batch)) or existed
        return existed

    def list_sites(self) -> list[str]:
        with redis_errors("other", self.log_reply_error):
            return sorted(s.decode() for s in self.redis.smembers(keys.SITES))


def _site(site_id: str, raw: dict) -> Site:
    return Site(site_id, tuple(json.loads(raw[b"domains"])), raw[b"timezone"].decode(),
                tuple(json.loads(raw.get(b"page_params", b"[]"))))
