"""What access needs from Redis: share link records and the sign-in attempt counter."""

from __future__ import annotations

import json
from datetime import datetime

from . import keys
from .replies import redis_errors


class CredentialsMixin:
    """Share links and sign-in attempts."""

    def count_signin_attempt(self, address: str, now: datetime) -> int:
        """Count one dashboard sign-in attempt of a hashed client address; answer this minute's count."""
        seconds = int(now.timestamp())
        key = keys.signin_attempts(address, seconds // 60)
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.incr(key)
            # Relative to the service's clock (which decides the minute), not Redis's.
            pipe.expire(key, 60 - seconds % 60 + keys.SIGNIN_KEEP_SECONDS)
            count, _ = pipe.execute()
        return int(count)

    def put_share(self, site_id: str, share_id: str, record: dict) -> None:
        """Store a share link's record (its secret's hash, never the secret)."""
        with redis_errors("other", self.log_reply_error):
            self.redis.hset(keys.shares(site_id), share_id, json.dumps(record, sort_keys=True, ensure_ascii=False))

    def get_share(self, site_id: str, share_id: str) -> dict | None:
        """A share link's record, or None when it was never made or was revoked."""
        with redis_errors("other", self.log_reply_error):
            raw = self.redis.hget(keys.shares(site_id), share_id)
        return json.loads(raw) if raw else None

    def list_shares(self, site_id: str) -> dict[str, dict]:
        """Every share link of a site: id -> record."""
        with redis_errors("other", self.log_reply_error):
            raw = self.redis.hgetall(keys.shares(site_id))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def delete_shares(self, site_id: str, share_ids: list[str]) -> int:
        """Revoke share links; answer how many existed."""
        if not share_ids:
            return 0
        with redis_errors("other", self.log_reply_error):
            return int(self.redis.hdel(keys.shares(site_id), *share_ids))

