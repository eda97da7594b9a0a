"""What access needs from Redis: share links, site tokens, dashboard sessions and attempt counters."""

from __future__ import annotations

import json
from datetime import datetime

from . import keys
from .replies import redis_errors


class CredentialsMixin:
    """Share links, site tokens, sessions, sign-in attempts and failed-credential counters."""

    def auth_failures(self, address: str, now: datetime) -> int:
        """Failed credential attempts of a hashed client address this minute (the service's clock)."""
        with redis_errors("other", self.log_reply_error):
            return int(self.redis.get(keys.auth_failures(address, int(now.timestamp()) // 60)) or 0)

    def count_auth_failure(self, address: str, now: datetime) -> int:
        """Count one failed credential attempt; answer this minute's count."""
        return self._count_in_minute(keys.auth_failures, address, now)

    def _count_in_minute(self, key_of, address: str, now: datetime) -> int:
        """INCR the counter ``key_of(address, minute)`` of this minute; answer its count."""
        seconds = int(now.timestamp())
        key = key_of(address, seconds // 60)
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.incr(key)
            # Relative to the service's clock (which decides the minute), not Redis's.
            pipe.expire(key, 60 - seconds % 60 + keys.SIGNIN_KEEP_SECONDS)
            count, _ = pipe.execute()
        return int(count)

    def claim_form(self, once: str) -> bool:
        """Take a form's one-time value; False when it was taken before (the form was sent again)."""
        with redis_errors("other", self.log_reply_error):
            return bool(self.redis.set(keys.form_once(once), 1, nx=True, ex=keys.FORM_ONCE_SECONDS))

    # --- site tokens

    def put_token(self, token_id: str, record: dict) -> None:
        with redis_errors("other", self.log_reply_error):
            self.redis.hset(keys.TOKENS, token_id, json.dumps(record, sort_keys=True, ensure_ascii=False))

    def get_token(self, token_id: str) -> dict | None:
        """A site token's record, or None when it was never made or was revoked."""
        with redis_errors("other", self.log_reply_error):
            raw = self.redis.hget(keys.TOKENS, token_id)
        return json.loads(raw) if raw else None

    def list_tokens(self) -> tuple[dict[str, dict], dict[str, str]]:
        """Every site token (id -> record) and when each was last used (id -> ISO time)."""
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.hgetall(keys.TOKENS)
            pipe.hgetall(keys.TOKENS_USED)
            found, used = pipe.execute()
        return ({k.decode(): json.loads(v) for k, v in found.items()},
                {k.decode(): v.decode() for k, v in used.items()})

    def count_tokens(self) -> int:
        with redis_errors("other", self.log_reply_error):
            return int(self.redis.hlen(keys.TOKENS))

    def delete_token(self, token_id: str) -> bool:
        """Revoke a site token; False when there was none."""
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.hdel(keys.TOKENS, token_id)
            pipe.hdel(keys.TOKENS_USED, token_id)
            removed, _ = pipe.execute()
        return bool(removed)

    def token_used(self, token_id: str, when: str) -> None:
        with redis_errors("other", self.log_reply_error):
            if self.redis.hexists(keys.TOKENS, token_id):  # not for a token revoked meanwhile
                self.redis.hset(keys.TOKENS_USED, token_id, when)

    def forget_site_credentials(self, site_id: str) -> None:
        """A site is deleted: its share links go, and every token loses it (registering the id again revives neither)."""
        with redis_errors("site", self.log_reply_error):
            self.redis.delete(keys.shares(site_id))
            self.redis.transaction(lambda pipe: self._drop_site_from_tokens(pipe, site_id), keys.TOKENS)

    @staticmethod
    def _drop_site_from_tokens(pipe, site_id: str) -> None:
        tokens = {k: json.loads(v) for k, v in pipe.hgetall(keys.TOKENS).items()}
        changed = {k: {**r, "sites": [s for s in r.get("sites", []) if s != site_id]}
                   for k, r in tokens.items() if site_id in r.get("sites", [])}
        pipe.multi()
        for token_id, record in changed.items():
            pipe.hset(keys.TOKENS, token_id, json.dumps(record, sort_keys=True, ensure_ascii=False))

    # --- dashboard sessions

    def put_session(self, session_id: str, record: dict, ends: int, now: datetime) -> None:
        """Keep a dashboard session until ``ends`` (unix s); trim ended ones from the list, and the share
        sessions nearest their end past MAX_SHARE_SESSIONS."""
        share = record.get("role") == "share"
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            # A lifetime relative to the service's clock (which decides when it ends), not Redis's.
            pipe.set(keys.session(session_id), json.dumps(record, sort_keys=True),
                     ex=max(1, ends - int(now.timestamp())))
            for listed in (keys.SESSIONS, keys.SHARE_SESSIONS) if share else (keys.SESSIONS,):
                pipe.zadd(listed, {session_id: ends})
                pipe.zremrangebyscore(listed, "-inf", int(now.timestamp()))
            if share:
                pipe.zcard(keys.SHARE_SESSIONS)
            replies = pipe.execute()
            over = replies[-1] - keys.MAX_SHARE_SESSIONS if share else 0
            if over > 0:  # the share sessions nearest their end go (this one ends last: it stays)
                gone = [member for member, _ in self.redis.zpopmin(keys.SHARE_SESSIONS, over)]
                pipe = self.redis.pipeline(transaction=False)
                pipe.delete(*(keys.session(i.decode()) for i in gone))
                pipe.zrem(keys.SESSIONS, *gone)
                pipe.execute()

    def session_with_credential(self, session_id: str, credential: tuple[str, str] | None):
        """(the session's record or None, its credential's record or None), in one round trip.

        ``credential`` is ('token', id) or ('share', "site:id") as the signed cookie names it.
        """
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.get(keys.session(session_id))
            if credential and credential[0] == "token":
                pipe.hget(keys.TOKENS, credential[1])
            elif credential and credential[0] == "share":
                site, _, share = credential[1].partition(":")
                pipe.hget(keys.shares(site), share)
            found = pipe.execute()
        session = json.loads(found[0]) if found[0] else None
        record = json.loads(found[1]) if len(found) > 1 and found[1] else None
        return session, record

    def list_sessions(self, now: datetime) -> dict[str, dict]:
        """Every live dashboard session: id -> record."""
        with redis_errors("other", self.log_reply_error):
            self.redis.zremrangebyscore(keys.SESSIONS, "-inf", int(now.timestamp()))
            ids = [i.decode() for i in self.redis.zrange(keys.SESSIONS, 0, -1)]
            if not ids:
                return {}
            pipe = self.redis.pipeline(transaction=False)
            for session_id in ids:
                pipe.get(keys.session(session_id))
            found = pipe.execute()
        return {i: json.loads(raw) for i, raw in zip(ids, found) if raw}

    def delete_session(self, session_id: str) -> bool:
        """End a dashboard session; False when there was none."""
        with redis_errors("other", self.log_reply_error):
            pipe = self.redis.pipeline(transaction=False)
            pipe.delete(keys.session(session_id))
            pipe.zrem(keys.SESSIONS, session_id)
            pipe.zrem(keys.SHARE_SESSIONS, session_id)
            removed, _, _ = pipe.execute()
        return bool(removed)

    def count_signin_attempt(self, address: str, now: datetime) -> int:
        """Count one dashboard sign-in attempt of a hashed client address; answer this minute's count."""
        return self._count_in_minute(keys.signin_attempts, address, now)

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

