"""Site settings in Redis: read, write (one or many), delete (with purge), list and page.

Besides each site's ``cfg`` hash, two keys of one slot (``{_sites}``) index them for the sites
list: a sorted set of ids at score 0 (pages in id order by ZRANGEBYLEX, whatever the number of
sites) and a catalogue hash, id -> domains, zone and group (what a search or a group filter
reads, in one command). Both are written in the same pipeline as the ``cfg`` hash by every
put and delete, so they follow every change; ``ensure_site_index`` rebuilds them from the
``cfg`` hashes when they are missing or their count disagrees with ``va:sites`` (an upgrade).
A site's group also lists it in the group's member set.
"""

from __future__ import annotations

import json

from ..model.sites import Site
from . import keys
from .replies import redis_errors

PUT_CHUNK = 500
"""Sites read and written per pipeline by put_sites (two round trips per chunk)."""


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
        return self.put_sites([site])[0] == "created"

    def put_sites(self, sites: list[Site], before: list[Site | None] | None = None) -> list[str]:
        """Create or replace many sites, PUT_CHUNK per two round trips (one when ``before``, their
        settings as just read, is given); answer 'created', 'updated' or 'unchanged' for each (a site
        whose settings are already these is not written)."""
        outcomes: list[str] = []
        for first in range(0, len(sites), PUT_CHUNK):
            chunk = sites[first:first + PUT_CHUNK]
            olds = before[first:first + PUT_CHUNK] if before is not None else self.get_sites([s.id for s in chunk])
            with redis_errors("site", self.log_reply_error):
                pipe = self.redis.pipeline(transaction=False)
                for site, old in zip(chunk, olds):
                    if old == site:
                        outcomes.append("unchanged")
                        continue
                    outcomes.append("updated" if old else "created")
                    _queue_put(pipe, site, old)
                if len(pipe):
                    pipe.execute()
        return outcomes

    def delete_site(self, site_id: str, purge: bool = False) -> bool:
        """Remove a site's settings (and with ``purge`` all its data); False when nothing was there."""
        old = self.get_site(site_id)
        with redis_errors("site", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.delete(keys.config(site_id))
            pipe.srem(keys.SITES, site_id)
            pipe.zrem(keys.SITE_INDEX, site_id)
            pipe.hdel(keys.SITE_CATALOG, site_id)
            if old is not None and old.group:
                pipe.srem(keys.group_members(old.group), site_id)
            existed = bool(pipe.execute()[0])
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

    def site_ids_after(self, after: str, count: int) -> tuple[list[str], int]:
        """Up to ``count`` site ids after ``after`` ('' from the first) in id order, and how many
        sites there are: one round trip."""
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.zrangebylex(keys.SITE_INDEX, f"({after}" if after else "-", "+", start=0, num=count)
            pipe.zcard(keys.SITE_INDEX)
            ids, total = pipe.execute()
        return [i.decode() for i in ids], int(total)

    def catalogue(self, site_ids: list[str] | None = None) -> list[Site]:
        """Sites as the catalogue lists them (domains, zone, group; no page_params), ``site_ids`` in
        their order (those not registered left out) or every site in id order: one round trip."""
        with redis_errors("other", self.log_reply_error):
            if site_ids is None:
                raw = self.redis.hgetall(keys.SITE_CATALOG)
                found = sorted((k.decode(), v) for k, v in raw.items())
            else:
                values = self.redis.hmget(keys.SITE_CATALOG, site_ids) if site_ids else []
                found = [(i, v) for i, v in zip(site_ids, values) if v is not None]
        return [_from_catalogue(site_id, value) for site_id, value in found]

    def ensure_site_index(self) -> bool:
        """Rebuild the sites list's index and catalogue from the sites' settings when they disagree
        with ``va:sites`` (first start after an upgrade); True when it rebuilt them."""
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.scard(keys.SITES)
            pipe.zcard(keys.SITE_INDEX)
            pipe.hlen(keys.SITE_CATALOG)
            registered, indexed, listed = pipe.execute()
        if registered == indexed == listed:
            return False
        ids = self.list_sites()
        found = [site for site in self.get_sites(ids) if site is not None]
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.delete(keys.SITE_INDEX, keys.SITE_CATALOG)
            for site in found:
                _queue_index(pipe, site)
            pipe.execute()
        return True


def _queue_put(pipe, site: Site, old: Site | None) -> None:
    """Queue the writes of one site's settings, its index entries and its group membership."""
    pipe.hset(keys.config(site.id), mapping={
        "domains": json.dumps(list(site.domains)), "timezone": site.timezone,
        "page_params": json.dumps(list(site.page_params)), "group": site.group})
    pipe.sadd(keys.SITES, site.id)
    _queue_index(pipe, site)
    if old is not None and old.group and old.group != site.group:
        pipe.srem(keys.group_members(old.group), site.id)


def _queue_index(pipe, site: Site) -> None:
    pipe.zadd(keys.SITE_INDEX, {site.id: 0})
    pipe.hset(keys.SITE_CATALOG, site.id, json.dumps(
        {"domains": list(site.domains), "timezone": site.timezone, "group": site.group}, separators=(",", ":")))
    if site.group:
        pipe.sadd(keys.group_members(site.group), site.id)


def _site(site_id: str, raw: dict) -> Site:
    return Site(site_id, tuple(json.loads(raw[b"domains"])), raw[b"timezone"].decode(),
                tuple(json.loads(raw.get(b"page_params", b"[]"))), raw.get(b"group", b"").decode())


def _from_catalogue(site_id: str, value: bytes) -> Site:
    entry = json.loads(value)
    return Site(site_id, tuple(entry["domains"]), entry["timezone"], (), entry.get("group", ""))
