"""Hits kept on disk: spilled at shutdown while Redis is away, replayed by the next start.

A file is claimed by taking an exclusive ``flock`` on it, held until its hits are written.
The kernel drops the lock when its holder dies, however it dies, so the next worker that
starts reclaims a file whose reader was SIGKILLed (a PID could be reused; a lock cannot).
Lines are versioned (``{"v": 3, ...}``); lines written by older versions still replay.

A spill that runs out of room keeps its whole lines (one batch each) and cuts the rest: no
partial file is left behind, and what fits replays. The folder's free space is checked against
the worst spill (``need_bytes``) at start and by /readyz.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import re
import shutil
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO

from ..model.hits import Hit

log = logging.getLogger(__name__)

VERSION = 3
"""Journal line format written now (3: every Hit field by name; 2: named but a fixed set; 1: positional lists, no "v")."""
CLAIMED = re.compile(r"^replaying-\d+-")
HIT_BYTES_BOUND = 4608
"""Most bytes one hit takes in a journal line (measured worst 4,336 B: a 200-character title of 4-byte characters is 2,400 B as
JSON escapes; page and link at most 512 B each; ids, zone, hosts): tests/test_journal_room.py checks it."""


class SpillError(OSError):
    """A spill failed part way: ``written`` whole batches are kept in ``path`` (None when none)."""

    def __init__(self, cause: OSError, path: Path | None, written: int):
        super().__init__(cause.errno, cause.strerror)
        self.path, self.written = path, written


@dataclasses.dataclass
class Claim:
    """A journal file this process holds the lock of, and the batches read from it."""

    path: Path
    handle: IO[str]
    batches: list[tuple[str, list[Hit]]]

    @property
    def hits(self) -> int:
        return sum(len(hits) for _, hits in self.batches)


class Journal:
    """The journal folder: spill, set aside, claim and release files of buffered hits."""

    def __init__(self, folder: str | Path | None, need_bytes: int = 0, need_why: str = ""):
        self.folder = Path(folder) if folder else None
        self.need_bytes = need_bytes
        """Room the worst spill takes (every worker's buffer full), checked by problem()."""
        self.need_why = need_why

    def problem(self) -> str | None:
        """Why hits could not be spilled here right now, or None (checked at start and by /readyz)."""
        if self.folder is None:
            return "JOURNAL_DIR is not set: hits buffered during a Redis outage are lost at shutdown"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = self.folder / f".probe-{os.getpid()}"
            with probe.open("wb") as out:  # a byte, not an empty file: a full disk refuses it
                out.write(b"\n")
                out.flush()
                os.fsync(out.fileno())
            probe.unlink()
            free = shutil.disk_usage(self.folder).free
        except OSError as exc:
            with contextlib.suppress(OSError):
                (self.folder / f".probe-{os.getpid()}").unlink()
            return f"JOURNAL_DIR {self.folder} is not writable ({exc.strerror}): hits buffered during a Redis " \
                   "outage would be lost at shutdown"
        if free < self.need_bytes:
            return (f"JOURNAL_DIR {self.folder} has {_size(free)} free, a full buffer spills up to "
                    f"{_size(self.need_bytes)} ({self.need_why}): hits that do not fit are lost at a shutdown "
                    "during a Redis outage; free some room or lower MAX_BUFFERED_HITS")
        return None

    def spill(self, batches: list[tuple[str, list[Hit]]], prefix: str = "journal") -> Path:
        """Write batches to a new file, one line each, atomically (rename), fsynced.

        Raises SpillError when the folder fills up (or any write fails) part way: the whole lines
        written by then are kept under the final name, the rest cut; OSError when nothing could be.
        """
        assert self.folder is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{prefix}-{os.getpid()}-{time.time_ns()}.jsonl"
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        kept = written = 0
        failure: OSError | None = None
        try:
            for batch_id, hits in batches:
                line = (json.dumps({"v": VERSION, "batch": batch_id, "hits": [encode(h) for h in hits]}) + "\n")
                data = memoryview(line.encode())
                while data:
                    data = data[os.write(fd, data):]
                kept += len(line)
                written += 1
            os.fsync(fd)
        except OSError as exc:
            failure = exc
            try:  # keep the whole lines: cut the partial one, and make the cut durable
                os.ftruncate(fd, kept)
                os.fsync(fd)
            except OSError:
                kept = 0
        finally:
            os.close(fd)
        if failure is None:
            temporary.rename(path)
            return path
        if not kept:
            temporary.unlink(missing_ok=True)
            raise SpillError(failure, None, 0)
        temporary.rename(path)
        raise SpillError(failure, path, written)

    def claim(self) -> list[Claim]:
        """Lock and read every file no live process holds: new spills and orphaned claims."""
        if self.folder is None or not self.folder.is_dir():
            return []
        claims = []
        for path in sorted([*self.folder.glob("journal-*.jsonl"), *self.folder.glob("replaying-*.jsonl")]):
            claim = self._claim(path)
            if claim is not None:
                claims.append(claim)
        return claims

    def _claim(self, path: Path) -> Claim | None:
        try:
            handle = path.open()
        except OSError:
            return None  # another worker renamed or finished it
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(handle.fileno()).st_ino != path.stat().st_ino:
                raise FileNotFoundError(path)  # replaced between open and lock
        except OSError:
            handle.close()
            return None
        claimed = path.with_name(f"replaying-{os.getpid()}-{CLAIMED.sub('', path.name)}")
        if path.name.startswith("replaying-"):
            log.warning("reclaiming %s: the process replaying it is gone", path.name)
        path.rename(claimed)  # the name says who holds it; the lock is what counts
        batches = []
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                batches.append(decode_line(line))
            except (ValueError, KeyError, TypeError, IndexError):
                log.error("%s line %d is not a journal entry: skipped", claimed.name, number)
        return Claim(claimed, handle, batches)

    @staticmethod
    def release(claims: list[Claim]) -> None:
        """Their hits are written (or spilled again): delete the files, drop the locks."""
        for claim in claims:
            claim.path.unlink(missing_ok=True)
            claim.handle.close()


def encode(hit: Hit) -> dict:
    """A hit as a journal row: every Hit field by name (so a field added to Hit survives a restart)."""
    row = {}
    for name, value in zip(Hit._fields, hit):
        if name in Hit._field_defaults and value == Hit._field_defaults[name]:
            continue  # left out: the default comes back on decoding
        if name == "at":
            value = int(value.timestamp() * 1000)
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        row[name] = value
    return row


def decode_line(line: str) -> tuple[str, list[Hit]]:
    """A journal line of any version as (batch id, hits)."""
    entry = json.loads(line)
    version = entry.get("v", 1)
    if version == 1:
        return entry["batch"], [_decode_v1(row) for row in entry["hits"]]
    if version == 2:
        return entry["batch"], [_decode_v2(row) for row in entry["hits"]]
    if version == 3:
        return entry["batch"], [_decode_v3(row) for row in entry["hits"]]
    raise ValueError(f"journal version {version} is newer than this service")


def _decode_v1(row: list) -> Hit:
    site, visitor, kind, at_ms, zone, *client = row
    return Hit(site, visitor, kind, _instant(at_ms), zone, *client)


def _decode_v2(row: dict) -> Hit:
    return Hit(row["site"], row["visitor"], row["kind"], _instant(row["at"]), row["tz"], row.get("client", ""),
               unchecked_hosts=tuple(row.get("unchecked", ())), page=row.get("page", ""), title=row.get("title", ""),
               link=row.get("link", ""))


def _decode_v3(row: dict) -> Hit:
    values = {name: row[name] for name in Hit._fields if name in row}
    values["at"] = _instant(values["at"])
    if "day" in values:
        values["day"] = date.fromisoformat(values["day"])
    if "unchecked_hosts" in values:
        values["unchecked_hosts"] = tuple(values["unchecked_hosts"])
    return Hit(**values)


def _instant(at_ms: int) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, timezone.utc)


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1024
    return f"{count} B"
