"""The seam between handlers and the store: a hit goes to the recorder, never to Redis directly.

The recorder answers at once whatever Redis does. Hits wait in a bounded in-process buffer
when Redis is slow or down (or, with FLUSH_INTERVAL_MS > 0, always, to be written in
batches: one round trip per batch). A background thread writes them, each batch under an
id that Redis remembers, so a batch retried after a timeout is counted once. On shutdown
the buffer is flushed, or spilled to a journal file that the next start replays.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import logging
import os
import secrets
import threading
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

from . import metrics
from .errors import StorageUnavailable
from .store import CounterStore, Hit

log = logging.getLogger(__name__)

BATCH_SIZE = 500
"""Most hits written in one round trip."""
RETRY_MAX_SECONDS = 2.0
"""Longest pause between two attempts to reach Redis during an outage."""


@dataclasses.dataclass
class Batch:
    """Hits written together; the id stays the same across retries."""

    id: str
    hits: list[Hit]

    @classmethod
    def new(cls, hits: list[Hit]) -> Batch:
        return cls(secrets.token_hex(8), hits)


class BufferedRecorder:
    """Count hits through a bounded buffer and a background flusher."""

    def __init__(self, store: CounterStore, flush_interval_seconds: float = 0.0,
                 max_buffered_hits: int = 100_000, journal_dir: str | None = None):
        self.store = store
        self.flush_interval_seconds = flush_interval_seconds
        self.max_buffered_hits = max_buffered_hits
        self.journal_dir = Path(journal_dir) if journal_dir else None
        self._batches: deque[Batch] = deque()   # waiting for a retry, ids fixed
        self._fresh: list[Hit] = []             # not yet attempted
        self._size = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._flushing = threading.Lock()      # one writer at a time: a batch leaves once
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False
        self._claimed: list[Path] = []
        self._blocked: dict[tuple[str, str], float] = {}  # (site, address) -> unix s the block ends
        atexit.register(self.close)

    # --- the handler side ----------------------------------------------------------------

    def record(self, hit: Hit) -> str:
        """Count ``hit`` now or later; answer its outcome, 'queued', or 'dropped' when full."""
        if self._blocked and self._blocked.get((hit.site, hit.client), 0) > hit.at.timestamp():
            metrics.hits("ip_limited").inc()
            return "ip_limited"
        if self.flush_interval_seconds <= 0 and not self._size:
            batch = Batch.new([hit])
            try:
                outcome = self.store.record_hits(batch.hits, batch.id)[0]
                self._note(hit, outcome)
                return outcome
            except StorageUnavailable:
                # The write may have landed before the timeout: retry under the same id.
                return self._enqueue(batch=batch)
        return self._enqueue(hit=hit)

    def _enqueue(self, hit: Hit | None = None, batch: Batch | None = None) -> str:
        with self._lock:
            if self._size >= self.max_buffered_hits:
                metrics.hits("dropped").inc()
                return "dropped"
            if batch is not None:
                self._batches.append(batch)
                self._size += len(batch.hits)
            else:
                self._fresh.append(hit)
                self._size += 1
            self._ensure_flusher()
        if batch is not None or len(self._fresh) >= BATCH_SIZE:
            self._wake.set()
        return "queued"

    @property
    def depth(self) -> int:
        """Hits waiting to be written."""
        return self._size

    # --- the flusher ---------------------------------------------------------------------

    def _ensure_flusher(self) -> None:
        if os.getpid() != self._pid:  # forked: the parent's thread does not exist here
            self._pid, self._thread = os.getpid(), None
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="hit-flusher", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        pause = 0.0
        while not self._closed:
            self._wake.wait(pause or self.flush_interval_seconds or 0.5)
            self._wake.clear()
            try:
                self.flush_once()
                pause = 0.0
            except StorageUnavailable:
                pause = min(RETRY_MAX_SECONDS, max(0.05, pause * 2))
            except Exception:  # never let the flusher die: the buffer would only grow
                log.exception("flushing buffered hits failed")
                pause = RETRY_MAX_SECONDS

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
                    self._drop_claimed_journals()
                    return written
            started = time.perf_counter()
            outcomes = self.store.record_hits(batch.hits, batch.id)  # StorageUnavailable: keep it
            metrics.FLUSH_SECONDS.observe(time.perf_counter() - started)
            for hit, outcome in zip(batch.hits, outcomes):
                self._note(hit, outcome)
            with self._lock:
                self._batches.popleft()
                self._size -= len(batch.hits)
                metrics.BUFFER_DEPTH.set(self._size)
            written += len(batch.hits)

    def _note(self, hit: Hit, outcome: str) -> None:
        """Count an outcome; remember a flooding address until its minute ends."""
        metrics.hits(outcome).inc()
        if outcome == "ip_limited":
            if len(self._blocked) > 10_000:
                now = time.time()
                self._blocked = {k: v for k, v in self._blocked.items() if v > now}
            self._blocked[(hit.site, hit.client)] = (hit.at.timestamp() // 60 + 1) * 60

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        """Write everything buffered now (tests, shutdown); True when the buffer is empty."""
        deadline = time.monotonic() + timeout_seconds
        while self._size and time.monotonic() < deadline:
            try:
                self.flush_once()
            except StorageUnavailable:
                time.sleep(0.1)
            except Exception:
                log.exception("flushing buffered hits failed")
                time.sleep(0.1)
        return not self._size

    # --- shutdown and the journal --------------------------------------------------------

    def close(self, timeout_seconds: float = 5.0) -> None:
        """Flush what is buffered; spill the rest to the journal when Redis stays away."""
        if self._closed or os.getpid() != self._pid and not self._size:
            return
        if not self.flush(timeout_seconds):
            self.spill()
        self._closed = True
        self._wake.set()

    def spill(self) -> Path | None:
        """Write the waiting hits to a journal file that the next start replays."""
        with self._lock:
            batches = list(self._batches) + ([Batch.new(self._fresh)] if self._fresh else [])
            self._batches.clear()
            self._fresh = []
            lost, self._size = self._size, 0
        if not batches:
            return None
        if self.journal_dir is None:
            log.error("Redis unreachable at shutdown and no JOURNAL_DIR: %d hits lost", lost)
            metrics.HITS.labels(outcome="dropped").inc(lost)
            return None
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        path = self.journal_dir / f"journal-{os.getpid()}-{time.time_ns()}.jsonl"
        temporary = path.with_suffix(".tmp")
        with temporary.open("w") as out:
            for batch in batches:
                out.write(json.dumps({"batch": batch.id, "hits": [encode(h) for h in batch.hits]}) + "\n")
            out.flush()
            os.fsync(out.fileno())
        temporary.rename(path)
        log.warning("Redis unreachable at shutdown: %d hits spilled to %s", lost, path)
        return path

    def replay_journal(self) -> int:
        """Queue the hits spilled by earlier processes (each file claimed by one process)."""
        if self.journal_dir is None or not self.journal_dir.is_dir():
            return 0
        queued = 0
        for path in sorted(self.journal_dir.glob("journal-*.jsonl")):
            claimed = path.with_name(f"replaying-{os.getpid()}-{path.name}")
            try:
                path.rename(claimed)  # atomic: one worker wins each file
            except OSError:
                continue
            with claimed.open() as lines:
                batches = [json.loads(line) for line in lines if line.strip()]
            with self._lock:
                for entry in batches:
                    hits = [decode(h) for h in entry["hits"]]
                    self._batches.append(Batch(entry["batch"], hits))
                    self._size += len(hits)
                    queued += len(hits)
                self._claimed.append(claimed)
                self._ensure_flusher()
            metrics.REPLAYED.inc(queued)
        if queued:
            log.warning("replaying %d hits from the journal", queued)
            self._wake.set()
        return queued

    def _drop_claimed_journals(self) -> None:
        """Everything is written: the journal files this process replayed can go."""
        for path in self._claimed:
            path.unlink(missing_ok=True)
        self._claimed.clear()


def encode(hit: Hit) -> list:
    return [hit.site, hit.visitor, hit.kind, int(hit.at.timestamp() * 1000), hit.timezone, hit.client]


def decode(row: list) -> Hit:
    site, visitor, kind, at_ms, zone, *client = row
    return Hit(site, visitor, kind, datetime.fromtimestamp(at_ms / 1000, timezone.utc), zone, *client)
