"""Site tokens: a credential the operator makes for one or more sites (a webmaster's own key).

A token reads ``va1.<id>.<key>``: the id finds its record, the key is checked against the
record's SHA-256 in constant time. Only the hash is kept; the token is shown once, when made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta, timezone

from ..errors import BadRequest
from .sites import valid_site_id

PREFIX = "va1"
TOKEN_ID = re.compile(r"[a-f0-9]{16}")
MAX_LABEL_CHARS = 200
MAX_SITES_PER_TOKEN = 1000
MAX_EXPIRY_DAYS = 3660
MAX_TOKENS = 10_000
"""Site tokens the service keeps at once: a typo in a script cannot fill Redis."""
LAST_USED_EVERY_SECONDS = 3600
"""A token's "last used" is written at most this often per process (coarse on purpose)."""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_request(body: object) -> tuple[str, list[str], int | None]:
    """(label, sites, expires_in_days) of a token request, or BadRequest."""
    if not isinstance(body, dict):
        raise BadRequest('body must be a JSON object, e.g. {"label": "Phòng Văn hóa", "sites": ["travinh-vh"]}')
    unknown = set(body) - {"label", "sites", "expires_in_days"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    label = body.get("label", "")
    if not isinstance(label, str) or len(label) > MAX_LABEL_CHARS:
        raise BadRequest(f"label must be a string of at most {MAX_LABEL_CHARS} characters")
    sites = body.get("sites")
    if (not isinstance(sites, list) or not sites or len(sites) > MAX_SITES_PER_TOKEN
            or not all(isinstance(s, str) and valid_site_id(s) for s in sites)):
        raise BadRequest(f"sites must be a list of 1 to {MAX_SITES_PER_TOKEN} site ids")
    days = body.get("expires_in_days")
    if days is not None and (type(days) is not int or not 1 <= days <= MAX_EXPIRY_DAYS):
        raise BadRequest(f"expires_in_days must be a whole number from 1 to {MAX_EXPIRY_DAYS}")
    return label.strip(), sorted(set(sites)), days


def new_token(label: str, sites: list[str], days: int | None, now: datetime) -> tuple[str, str, dict]:
    """(id, the token to show once, the record to store: its key's hash, never the key)."""
    token_id, key = secrets.token_hex(8), secrets.token_urlsafe(32)
    record = {"hash": digest(key), "label": label, "sites": sites, "created": _iso(now),
              "expires": _iso(now + timedelta(days=days)) if days else None}
    return token_id, f"{PREFIX}.{token_id}.{key}", record


def split_token(given: str) -> tuple[str, str] | None:
    """(id, key) of something that looks like a site token, or None."""
    parts = given.split(".")
    if len(parts) != 3 or parts[0] != PREFIX or not TOKEN_ID.fullmatch(parts[1]) or not 20 <= len(parts[2]) <= 64:
        return None
    return parts[1], parts[2]


def key_matches(record: dict, key: str) -> bool:
    return hmac.compare_digest(record.get("hash", ""), digest(key))


def expired(record: dict, now: datetime) -> bool:
    return bool(record.get("expires")) and datetime.fromisoformat(record["expires"]) <= now


def public(token_id: str, record: dict, last_used: str | None = None) -> dict:
    """A token as the API lists it: never its key, nor the key's hash."""
    return {"id": token_id, "label": record.get("label", ""), "sites": record.get("sites", []),
            "created": record["created"], "expires": record.get("expires"), "last_used": last_used}


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")
