"""Cookieless visitor ids: a keyed hash that nobody can reverse once the day's salt is gone."""

from __future__ import annotations

import hashlib
import ipaddress

IPV6_CLIENT_PREFIX = 64
"""An IPv6 client is its /64: one subscriber holds at least that many addresses and could otherwise
take a fresh one for every few attempts (sign-in guesses) or every few hits (the flood limit)."""


def client_of(address: str) -> str:
    """What the per-address limits count as one client: the address, or an IPv6 address's /64."""
    if ":" not in address:
        return address  # IPv4, as the server or a trusted proxy reports it (no parse on the hit path)
    try:
        parsed = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))


KEYED_KEPT = 8
"""Salts whose keyed hashes are kept ready (a day's and the next; a few days' when zones differ)."""
_keyed: dict[bytes, tuple] = {}


def _hashes_of(salt: bytes) -> tuple:
    """BLAKE2b keyed with ``salt``, once per salt: a hit copies them (keying costs a compression per hash)."""
    hashes = _keyed.get(salt)
    if hashes is None:
        key = salt[:64]
        hashes = (hashlib.blake2b(digest_size=12, key=key), hashlib.blake2b(digest_size=8, key=key, person=b"address"),
                  hashlib.blake2b(digest_size=12, key=key, person=b"group"))
        if len(_keyed) >= KEYED_KEPT:
            _keyed.clear()  # days gone by: their salts never come back
        _keyed[salt] = hashes
    return hashes


def visitor_id(salt: bytes, site: str, address: str, user_agent: str) -> str:
    """Hash (site, client address, User-Agent) under the day's secret salt."""
    digest = _hashes_of(salt)[0].copy()
    digest.update("\x00".join((site, address, user_agent)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def address_id(salt: bytes, address: str) -> str:
    """Hash a client (an address, an IPv6 address's /64) under the day's salt, for the per-address flood limit."""
    digest = _hashes_of(salt)[1].copy()
    digest.update(client_of(address).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def group_visitor_id(salt: bytes, group: str, address: str, user_agent: str) -> str:
    """Hash (group, client address, User-Agent) under the day's salt, personalised for groups: the same
    reader on two member sites is one id, which no site's own visitor id can be matched with."""
    digest = _hashes_of(salt)[2].copy()
    digest.update("\x00".join((group, address, user_agent)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
