"""Cookieless visitor ids: a keyed hash that nobody can reverse once the day's salt is gone."""

from __future__ import annotations

import hashlib


def visitor_id(salt: bytes, site: str, address: str, user_agent: str) -> str:
    """Hash (site, client address, User-Agent) under the day's secret salt."""
    digest = hashlib.blake2b(digest_size=12, key=salt[:64])
    digest.update("\x00".join((site, address, user_agent)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def address_id(salt: bytes, address: str) -> str:
    """Hash a client address under the day's salt, for the per-address flood limit."""
    digest = hashlib.blake2b(digest_size=8, key=salt[:64], person=b"address")
    digest.update(address.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def group_visitor_id(salt: bytes, group: str, address: str, user_agent: str) -> str:
    """Hash (group, client address, User-Agent) under the day's salt, personalised for groups: the same
    reader on two member sites is one id, which no site's own visitor id can be matched with."""
    digest = hashlib.blake2b(digest_size=12, key=salt[:64], person=b"group")
    digest.update("\x00".join((group, address, user_agent)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
