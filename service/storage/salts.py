"""The daily salts of visitor ids: shared by every worker through Redis, cached per process."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import date, datetime, timedelta

from redis.exceptions import RedisError

from . import keys

SALT_RETRY_SECONDS = 5.0
"""With Redis away and a process-local salt standing in, ask Redis again after this long."""
SALT_CHECK_SECONDS = 5.0
"""A cached salt is compared with Redis's this often: a Redis restarted empty gets it back (or a
second worker's salt is adopted), so one visitor stays one visitor."""

log = logging.getLogger(__name__)


class SaltsMixin:
    """The salt of each local day."""

    def _init_salts(self) -> None:
        self._salts: dict[date, tuple[bytes, float]] = {}  # day -> (salt, unix s last compared with Redis)
        self._fallback_salts: dict[date, tuple[bytes, float]] = {}  # day -> (salt, when Redis failed)
        self._salt_lock = threading.Lock()

    def salt(self, day: date, now: datetime) -> bytes:
        """The secret salt of a local day, shared by every worker through Redis.

        Tomorrow's salt is created along with today's, so a Redis outage across midnight
        finds it cached. Every SALT_CHECK_SECONDS the cached salt is compared with Redis's:
        after Redis lost it, this worker's goes back (SET NX), and a salt another worker set
        first is adopted. With Redis away and no salt cached, a process-local salt stands in
        (visits of that outage may then count a little high) rather than losing the hit.
        """
        cached = self._salts.get(day)
        moment = now.timestamp()
        if cached is not None and (moment - cached[1] < SALT_CHECK_SECONDS
                                   or not self._salt_lock.acquire(blocking=False)):
            return cached[0]  # fresh, or another thread is asking Redis right now
        if cached is not None:
            try:
                return self._check_salt(day, now, cached[0])
            finally:
                self._salt_lock.release()
        fallback = self._fallback_salts.get(day)
        if fallback and time.monotonic() - fallback[1] < SALT_RETRY_SECONDS:
            return fallback[0]  # Redis failed moments ago: do not make every hit wait for it again
        with self._salt_lock:
            try:
                pipe = self.redis.pipeline(transaction=False)
                for d in (day, day + timedelta(days=1)):
                    pipe.set(keys.salt(d), secrets.token_bytes(32), nx=True, ex=self._salt_lifetime(d, now))
                    pipe.get(keys.salt(d))
                _, today, _, tomorrow = pipe.execute()
            except RedisError:
                salt = self._fallback_salts.get(day, (secrets.token_bytes(32),))[0]
                self._fallback_salts[day] = (salt, time.monotonic())
                return salt
            self._salts = {d: s for d, s in self._salts.items() if d >= day - timedelta(days=2)}
            self._salts[day], self._salts[day + timedelta(days=1)] = (today, moment), (tomorrow, moment)
            self._fallback_salts.clear()
        return today

    def _check_salt(self, day: date, now: datetime, mine: bytes) -> bytes:
        """Put this worker's salt back if Redis lost it; adopt Redis's when it differs."""
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.set(keys.salt(day), mine, nx=True, ex=self._salt_lifetime(day, now))
            pipe.get(keys.salt(day))
            _, found = pipe.execute()
        except RedisError:
            return mine  # Redis away: keep hashing with the salt we know
        if found and found != mine:
            log.warning("Redis holds another salt for %s than this worker (restarted empty?): adopting it", day)
            mine = found
        self._salts[day] = (mine, now.timestamp())
        return mine

    @staticmethod
    def _salt_lifetime(day: date, now: datetime) -> int:
        return max(60, keys.salt_deadline_any_zone(day) - int(now.timestamp()))

