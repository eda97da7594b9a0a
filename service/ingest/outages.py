"""An outage and the hits dropped during it, in the log: one WARNING when Redis stops answering (with the
hits buffered), one when it is back (how long, how many written), and one a minute while hits drop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..errors import StorageUnavailable, Unconfirmed

log = logging.getLogger("service.ingest.recorder")  # the recorder's lines, as operators grep them

OUTAGE_LOG_SECONDS = 60.0
"""An outage's start, and hits dropped, are logged at most this often per process."""


class OutageLog:
    """What the recorder tells the log of an outage: it calls ``failed``, ``wrote``, ``flushed``, ``dropped``."""

    def __init__(self, buffered: Callable[[], int], max_buffered_hits: int):
        self._buffered = buffered
        self._max_buffered_hits = max_buffered_hits
        self._lock = threading.Lock()
        self.since: float | None = None   # monotonic start of the current outage
        self._logged = False              # its start was logged (so its end will be)
        self._last_log = -OUTAGE_LOG_SECONDS
        self._why = ""
        self._recovered = 0               # hits written since the outage's first good write
        self._backlog: int | None = None  # hits buffered when the first write after it succeeded
        self._ended = 0.0                 # monotonic time of that write
        self._dropped = 0                 # dropped on a full buffer, not yet logged
        self._dropped_last_log = -OUTAGE_LOG_SECONDS

    def failed(self, exc: StorageUnavailable) -> None:
        """A write failed for want of Redis (or of a replica's confirmation): note when the outage began."""
        if self.since is None:
            with self._lock:
                if self.since is None:
                    self.since, self._logged, self._recovered, self._backlog = time.monotonic(), False, 0, None
                    self._why = exc.redis_message if isinstance(exc, Unconfirmed) else "no answer"
            self.report()

    def flush_failed(self) -> None:
        """The flusher's attempt failed: the outage goes on."""
        self._backlog = None

    def dropped(self) -> None:
        """A hit was dropped on a full buffer (logged with the others, once a minute)."""
        self._dropped += 1

    def wrote(self, hits: int) -> None:
        """A batch was written."""
        if self.since is not None:
            self._recovered += hits

    def flushed(self) -> None:
        """The flusher wrote what it had: once the outage's backlog is written, the outage is over."""
        if self.since is None:
            return
        if self._backlog is None:
            self._backlog = self._recovered + self._buffered()  # the outage's hits: logged once written
            self._ended = time.monotonic()
        if self._recovered >= self._backlog:
            self.over()

    def report(self) -> None:
        """Log an outage's start (at most once a minute) and the hits dropped since the last line."""
        now = time.monotonic()
        if self.since is not None and not self._logged and now - self._last_log >= OUTAGE_LOG_SECONDS:
            with self._lock:
                if self._logged:
                    return
                self._logged, self._last_log = True, now
            log.warning("Redis stopped answering (%s): %d hits buffered in this worker, written when it is back",
                        self._why, self._buffered(), extra={"buffered_hits": self._buffered()})
        if self._dropped and now - self._dropped_last_log >= OUTAGE_LOG_SECONDS:
            with self._lock:
                dropped, self._dropped, self._dropped_last_log = self._dropped, 0, now
            log.warning("%d hits dropped: the buffer is full (MAX_BUFFERED_HITS %d) while Redis is away",
                        dropped, self._max_buffered_hits, extra={"dropped_hits": dropped})

    def over(self) -> None:
        """Everything buffered is written (or nothing waits): log the end of the outage, if its start was."""
        with self._lock:
            since, self.since, self._backlog = self.since, None, None
            recovered, self._recovered = self._recovered, 0
        if since is not None and self._logged:
            lasted = max(self._ended, since) - since if self._ended else time.monotonic() - since
            log.warning("Redis answers again after %.1f s: %d buffered hits written, %d waiting", lasted, recovered,
                        self._buffered(), extra={"outage_seconds": round(lasted, 1), "written_hits": recovered})
        self._ended = 0.0

    def closing(self) -> None:
        """At shutdown: log the drops of the last minute now."""
        self._dropped_last_log = -OUTAGE_LOG_SECONDS
        self.report()
