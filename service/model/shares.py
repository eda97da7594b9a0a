"""Read-only share links of one site: made and revoked by the admin API, opened by editors."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta, timezone

from ..errors import BadRequest

SHARE_ID = re.compile(r"[a-f0-9]{12}")
MAX_LABEL_CHARS = 200
MAX_EXPIRY_DAYS = 3660
MAX_SHARES_PER_SITE = 200
"""Share links one site may have at once: a typo in a script cannot fill Redis."""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_share(site_id: str, body: dict, now: datetime) -> tuple[str, str, dict]:
    """(id, secret for the URL, record to store) of a new share link; the record keeps only a hash."""
    unknown = set(body) - {"label", "expires_in_days"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    label = body.get("label", "")
    if not isinstance(label, str) or len(label) > MAX_LABEL_CHARS:
        raise BadRequest(f"label must be a string of at most {MAX_LABEL_CHARS} characters")
    days = body.get("expires_in_days")
    if days is not None and (type(days) is not int or not 1 <= days <= MAX_EXPIRY_DAYS):
        raise BadRequest(f"expires_in_days must be a whole number from 1 to {MAX_EXPIRY_DAYS}")
    share_id, key = secrets.token_hex(6), secrets.token_urlsafe(24)
    record = {"hash": digest(key), "label": label.strip(),
              "created": now.astimezone(timezone.utc).isoformat(timespec="seconds"),
              "expires": (now + timedelta(days=days)).astimezone(timezone.utc).isoformat(timespec="seconds")
              if days else None}
    return share_id, f"{site_id}.{share_id}.{key}", record


def split_secret(secret: str) -> tuple[str, str, str] | None:
    """(site, share id, key) of a share URL's secret, or None when it is not one."""
    parts = secret.split(".")
    if len(parts) != 3 or not SHARE_ID.fullmatch(parts[1]) or not 20 <= len(parts[2]) <= 64:
        return None
    return parts[0], parts[1], parts[2]


def key_matches(record: dict, key: str) -> bool:
    return hmac.compare_digest(record.get("hash", ""), digest(key))


def expired(record: dict, now: datetime) -> bool:
    return bool(record.get("expires")) and datetime.fromisoformat(record["expires"]) <= now


def public(share_id: str, record: dict) -> dict:
    """A share as the API lists it: never its secret, nor the secret's hash."""
    return {"id": share_id, "label": record.get("label", ""), "created": record["created"],
            "expires": record.get("expires")}
