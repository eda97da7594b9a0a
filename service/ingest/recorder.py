"""The seam between handlers and the store: a hit goes to the recorder, never to Redis directly.

The recorder answers at once whatever Redis does. Hits wait in a bounded in-process buffer
when Redis is slow or down (or, with FLUSH_INTERVAL_MS > 0, always, to be written in
batches: one round trip per batch). A background thread writes them, each batch under an
id that Redis remembers, so a batch retried after a timeout is counted once. On shutdown
the buffer is flushed, or spilled to a journal file that the next start replays.

Redis answering with an error is not an outage: out of memory, a read-only replica, refused
credentials or a server too old keep the hits waiting (and /readyz says why); any other error
reply is retried a few times, then the batch is set aside on disk, never retried forever.
Outages and drops are logged by outages.py.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import threading
import time
from collections import Counter, deque
from datetime import date
from pathlib import Path

from ..ops import metrics
from ..errors import RedisReplyError, StorageUnavailable, Unconfirmed
from .journal import HIT_BYTES_BOUND, Journal, SpillError
from .batches import Batch
from .outages import OutageLog
from ..ops.startup import gunicorn_workers
from .address_blocks import AddressBlocks
from .attribution import OngoingVisits
from ..model.hits import Hit, Outcome
from ..storage import CounterStore

log = logging.getLogger(__name__)

BATCH_SIZE = 500
"""Most hits written in one round trip."""
RETRY_MAX_SECONDS = 2.0
"""Longest pause between two attempts to reach Redis during an outage."""
REPLY_RETRY_SECONDS = 5.0
"""Longest pause between two attempts while Redis answers with an error (OOM, READONLY...)."""
REJECTED_AFTER_ATTEMPTS = 3
"""A batch refused this many times by an unexpected error reply is set aside on disk."""
SPILL_LINE_HITS = 50
"""Hits per journal line of a spill: a disk that fills up mid-spill keeps every whole line."""


class BufferedRecorder:
    """Count hits through a bounded buffer and a background flusher."""

    def __init__(self, store: CounterStore, flush_interval_seconds: float = 0.0,
                 max_buffered_hits: int = 100_000, journal_dir: str | None = None,
                 blocks: AddressBlocks | None = None):
        self.store = store
        self.blocks = blocks or AddressBlocks()
        self.visits = OngoingVisits(store.limits.visit_timeout_seconds)
        """Readers whose visit Redis counted moments ago: the pipeline reuses their source and device."""
        self.flush_interval_seconds = flush_interval_seconds
        self.max_buffered_hits = max_buffered_hits
        workers = gunicorn_workers()
        self.journal = Journal(journal_dir, need_bytes=max_buffered_hits * HIT_BYTES_BOUND * workers,
                               need_why=f"MAX_BUFFERED_HITS {max_buffered_hits:,} x {workers} worker(s) x "
                                        f"{HIT_BYTES_BOUND:,} B a hit at most")
        self._batches: deque[Batch] = deque()   # waiting for a retry, ids fixed
        self._fresh: list[Hit] = []             # not yet attempted
        self._size = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._flushing = threading.Lock()      # one writer at a time: a batch leaves once
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        os.register_at_fork(after_in_child=self._forked)
        self._closed = False
        self._claims = []                       # journal files replayed, deleted once written
        self._refusals = 0                      # unexpected error replies to the head batch
        self._drops: dict[tuple[str, str, date], Counter] = {}  # turned away at once, written with the next batch
        self.failing: RedisReplyError | Unconfirmed | None = None
        """The error reply Redis gave the last write, or its unconfirmed batch, until a write succeeds (for /readyz)."""
        self.outages = OutageLog(lambda: self._size, max_buffered_hits)
        self.thread_name = f"hit-flusher-{secrets.token_hex(3)}"
        """The flusher thread's name: its log lines say which recorder wrote them (tests run many apps)."""
        atexit.register(self.close)

    # --- the handler side ----------------------------------------------------------------

    def record(self, hit: Hit) -> Outcome:
        """Count ``hit`` now or later; answer its outcome, 'queued', or 'dropped' when full."""
        if self.flush_interval_seconds <= 0 and not self._size and not hit.unchecked_hosts:
            batch = Batch.new([hit])
            try:
                outcome = self.store.record_hits(batch.hits, batch.id)[0]
                self.failing = None
                self._note(hit, outcome)
                return outcome
            except StorageUnavailable as exc:
                # The write may have landed before the timeout: retry under the same id.
                self._outage(exc)
                return self._enqueue(batch=batch)
            except RedisReplyError as exc:
                self.failing = exc  # nothing was written: the flusher retries it
                return self._enqueue(batch=batch)
        return self._enqueue(hit=hit)

    def _enqueue(self, hit: Hit | None = None, batch: Batch | None = None) -> Outcome:
        with self._lock:
            if self._size >= self.max_buffered_hits:
                metrics.hits(Outcome.DROPPED).inc()
                self.outages.dropped()
                return Outcome.DROPPED
            if batch is not None:
                self._batches.append(batch)
                self._size += len(batch.hits)
            else:
                self._fresh.append(hit)
                self._size += 1
            self._ensure_flusher()
        if batch is not None or len(self._fresh) >= BATCH_SIZE:
            self._wake.set()
        return Outcome.QUEUED

    def note_drop(self, site: str, zone: str, day: date, outcome: Outcome) -> None:
        """Count a hit turned away at once (bot, prefetch, other domain...) for the site's day.

        Written with the next batch, in its round trip (with FLUSH_INTERVAL_MS=0 at once);
        while Redis is away they wait here (one small counter per site, day and reason), and a
        shutdown then loses them. A write that timed out but landed may count its tally twice.
        """
        if self.flush_interval_seconds <= 0 and not self._drops:
            try:  # writing before answering, as for hits: the tally is there when the answer is
                self.store.record_drops({(site, zone, day): Counter({outcome: 1})})
                return
            except (StorageUnavailable, RedisReplyError):
                pass  # kept below, written with the next batch
        with self._lock:
            self._drops.setdefault((site, zone, day), Counter())[outcome] += 1
            self._ensure_flusher()

    def _take_drops(self) -> dict:
        with self._lock:
            drops, self._drops = self._drops, {}
        return drops

    def _give_back_drops(self, drops: dict) -> None:
        with self._lock:
            for key, reasons in drops.items():
                self._drops.setdefault(key, Counter()).update(reasons)

    @property
    def depth(self) -> int:
        """Hits waiting to be written in this process."""
        return self._size

    def _outage(self, exc: StorageUnavailable) -> None:
        """A write failed for want of Redis (or of a replica's confirmation)."""
        if isinstance(exc, Unconfirmed):
            self.failing = exc
        self.outages.failed(exc)

    # --- the flusher ---------------------------------------------------------------------

    def _forked(self) -> None:
        """In a forked child the parent's flusher thread does not exist (called by os.register_at_fork)."""
        self._pid, self._thread = os.getpid(), None

    def _ensure_flusher(self) -> None:
        # Runs for every buffered hit: no os.getpid() here (a fork resets _thread, _forked above).
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        pause = 0.0
        while not self._closed:
            self._wake.wait(pause or self.flush_interval_seconds or 0.5)
            self._wake.clear()
            try:
                self.flush_once()
                pause = 0.0
                self.outages.flushed()
            except StorageUnavailable as exc:
                self._outage(exc)
                self.outages.flush_failed()
                pause = min(RETRY_MAX_SECONDS, max(0.05, pause * 2))
            except RedisReplyError as exc:
                self._refused(exc)
                pause = min(REPLY_RETRY_SECONDS, max(0.1, pause * 2))
            except Exception as exc:  # never let the flusher die: the buffer would only grow
                log.exception("flushing buffered hits failed")
                self._refused(exc)  # a batch that always fails must not stop every batch behind it
                pause = RETRY_MAX_SECONDS
            self.outages.report()

    def flush_once(self) -> int:
        """Write every waiting batch and hit; answer how many were written, or raise."""
        with self._flushing:
            return self._write_all()

    def _write_all(self) -> int:
        # Hits that arrive while a batch is being written wait for the next flush (unless a
        # full batch is ready): writing them at once would shrink batches to a hit or two
        # under load, which costs a round trip each.
        written = 0
        metrics.BUFFER_DEPTH.set(self._size)  # here, not per hit: the gauge is a shared-memory write
        while True:
            with self._lock:
                if self._batches:
                    batch = self._batches[0]
                elif self._fresh and (not written or len(self._fresh) >= BATCH_SIZE):
                    batch = Batch.new(self._fresh[:BATCH_SIZE])
                    del self._fresh[:BATCH_SIZE]
                    self._batches.appendleft(batch)
                else:  # no batch waits: the replayed journals are all written
                    self._release_claims()
                    batch = None
            if batch is None:
                if self._drops:  # turned-away hits noted since the last batch: on their own
                    drops = self._take_drops()
                    try:
                        self.store.record_drops(drops)
                    except Exception:
                        self._give_back_drops(drops)
                        raise
                return written
            batch.check_sites(self.store.get_site)
            started = time.perf_counter()
            drops = self._take_drops() if self._drops else {}
            try:
                outcomes = self.store.record_hits(batch.hits, batch.id, drops) if batch.hits or drops else []
            except Exception:  # kept: the batch stays at the head, the drops wait for the next one
                self._give_back_drops(drops)
                raise
            metrics.FLUSH_SECONDS.observe(time.perf_counter() - started)
            self.failing, self._refusals = None, 0
            self._note_all(batch.hits, outcomes)
            if batch.replayed:
                metrics.REPLAYED.inc(len(batch.hits))
            self.outages.wrote(len(batch.hits))
            self._done(batch, batch.size)
            written += len(batch.hits)

    def _done(self, batch: Batch, size: int) -> None:
        """The head batch left the buffer (written, or set aside)."""
        with self._lock:
            self._batches.popleft()
            self._size -= size
            metrics.BUFFER_DEPTH.set(self._size)

    def _refused(self, exc: Exception) -> None:
        """Redis answered the head batch with an error (or writing it failed here, a bug): wait if
        it heals, set it aside if not."""
        if isinstance(exc, RedisReplyError):
            self.failing = exc
            if exc.kind in RedisReplyError.TRANSIENT:
                return  # OOM, READONLY...: the hits wait for the operator, /readyz says why
        self._refusals += 1
        if self._refusals < REJECTED_AFTER_ATTEMPTS:
            return
        self._refusals = 0
        with self._flushing:
            if not self._batches:
                return
            batch = self._batches[0]
            where = self._keep_on_disk([batch], "rejected")
            self._done(batch, batch.size)
        metrics.BATCHES_SET_ASIDE.inc()
        if where:
            metrics.hits(Outcome.REJECTED).inc(len(batch.hits))
            why = exc.redis_message if isinstance(exc, RedisReplyError) else f"{type(exc).__name__}: {exc}"
            log.error("writing a batch of %d hits failed %d times (%s): set aside in %s",
                      len(batch.hits), REJECTED_AFTER_ATTEMPTS, why, where)

    def _note(self, hit: Hit, outcome: str) -> None:
        """Count a written hit's outcome; a flooding address is turned away until its minute ends; a
        counted reader's visit is ongoing."""
        self._note_all([hit], [outcome])

    def _note_all(self, hits: list[Hit], outcomes: list[str]) -> None:
        # One increment per outcome and batch, not per hit: each is a locked shared-memory write.
        for outcome, count in Counter(outcomes).items():
            metrics.hits(outcome).inc(count)
        self.visits.counted(hits, outcomes)
        if Outcome.IP_LIMITED in outcomes:
            for hit, outcome in zip(hits, outcomes):
                if outcome == Outcome.IP_LIMITED:
                    self.blocks.block(hit.site, hit.client, hit.at.timestamp())

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        """Write everything buffered now (tests, shutdown); True when the buffer is empty."""
        deadline = time.monotonic() + timeout_seconds
        while self._size and time.monotonic() < deadline:
            try:
                self.flush_once()
            except StorageUnavailable as exc:
                self._outage(exc)
                time.sleep(0.1)
            except Exception as exc:  # as in _run: an error reply or a failure of ours waits, or is set aside
                if not isinstance(exc, RedisReplyError):
                    log.exception("flushing buffered hits failed")
                self._refused(exc)
                time.sleep(0.1)
        return not self._size

    # --- shutdown and the journal --------------------------------------------------------

    def close(self, timeout_seconds: float = 5.0) -> None:
        """Flush what is buffered; spill the rest to the journal when Redis stays away."""
        if self._closed or os.getpid() != self._pid and not self._size:
            return
        if not self.flush(timeout_seconds):
            self.spill()
        elif self.outages.since is not None:
            self.outages.over()
        self._closed = True
        self._wake.set()
        self.outages.closing()  # the drops of the last minute

    def spill(self) -> Path | None:
        """Write the waiting hits to a journal file that the next start replays."""
        with self._lock:
            # Fresh hits in small batches: a disk that fills up mid-spill keeps every whole line.
            batches = list(self._batches) + [Batch.new(self._fresh[n:n + SPILL_LINE_HITS])
                                             for n in range(0, len(self._fresh), SPILL_LINE_HITS)]
            self._batches.clear()
            self._fresh = []
            self._size = 0
        if not batches:
            return None
        path = self._keep_on_disk(batches, "journal")
        if path:
            log.warning("Redis unreachable at shutdown: %d hits spilled to %s", self._kept, path)
            self._release_claims()  # their batches are in the new file now
        return path

    def _keep_on_disk(self, batches: list[Batch], prefix: str) -> Path | None:
        """Write batches to the journal folder; on failure log the loss and count it dropped."""
        lost = sum(batch.size for batch in batches)
        self._kept, path = 0, None
        if self.journal.folder is None:
            log.error("no JOURNAL_DIR: %d hits lost", lost)
        else:
            try:
                path = self.journal.spill([(b.id, b.hits) for b in batches], prefix)
                self._kept, lost = lost, 0
                return path
            except SpillError as exc:  # the whole lines written before it failed are kept
                path, self._kept = exc.path, sum(b.size for b in batches[:exc.written])
                lost -= self._kept
                log.error("cannot write to JOURNAL_DIR %s (%s): %d hits lost%s", self.journal.folder, exc.strerror,
                          lost, f", {self._kept} kept in {path.name}" if path else "",
                          extra={"lost_hits": lost, "kept_hits": self._kept})
            except OSError as exc:
                log.error("cannot write to JOURNAL_DIR %s (%s): %d hits lost", self.journal.folder, exc.strerror, lost)
        metrics.hits(Outcome.DROPPED).inc(lost)
        return path

    def replay_journal(self) -> int:
        """Queue the hits of every journal file no live process holds (spilled or orphaned)."""
        claims = self.journal.claim()
        queued = 0
        for claim in claims:
            with self._lock:
                for batch_id, hits in claim.batches:
                    self._batches.append(Batch(batch_id, hits, replayed=True))
                    self._size += len(hits)
                self._claims.append(claim)
                self._ensure_flusher()
            queued += claim.hits
        if queued:
            log.warning("replaying %d hits from the journal", queued)
            self._wake.set()
        return queued

    def _release_claims(self) -> None:
        """Everything is written: the journal files this process replayed can go."""
        if self._claims:
            Journal.release(self._claims)
            self._claims = []
