"""Import the per-page view counts an older CMS showed: JSON or CSV, streamed, checked whole first.

Two passes, neither holding the file in memory: the upload is parsed as it arrives and every
good row, already normalized, goes to a temporary spool file; only a file that parsed to its
end is then written to Redis, a thousand rows per script call. A file that is not what it
claims (broken JSON, not UTF-8, no rows) writes nothing; single bad rows are skipped and
reported with their line (CSV) or entry (JSON) number.
"""

from __future__ import annotations

import csv
import dataclasses
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO

import ijson

from ..errors import BadRequest
from . import json_stream, text_lines
from .page_urls import MAX_PATH_CHARS, page_key

MAX_JSON_DEPTH = 8
"""Deepest nesting a page baseline's JSON may have ({"pages": {path: views}} needs two levels)."""
MAX_ROWS = 1_000_000
"""Most rows one import may carry."""
MAX_VIEWS = 10**12
CHUNK_ROWS = 1000
"""Rows per Redis script call."""
REPORTED_REJECTIONS = 100
"""Rejected rows listed in the answer (all are counted)."""


@dataclasses.dataclass
class ImportReport:
    """What an import read, wrote and refused."""

    rows_read: int = 0
    imported: int = 0
    changed: int = 0
    rejected: int = 0
    rejections: list[dict] = dataclasses.field(default_factory=list)

    def reject(self, where: str, number: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < REPORTED_REJECTIONS:
            self.rejections.append({where: number, "reason": reason})

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


def csv_rows(stream: IO[bytes]) -> Iterator[tuple[str, int, object, object]]:
    """(\"line\", number, path, views) of a ``path,views`` CSV (UTF-8, header row optional)."""
    lines = text_lines.bounded_lines(stream, 4 * MAX_PATH_CHARS + 64, lambda: BadRequest(
        "a CSV line is longer than any path,views row can be"))
    reader, number = csv.reader(lines, strict=True), 0
    try:
        while True:
            number += 1
            try:
                row = next(reader, None)
            except csv.Error as exc:  # strict: an unterminated quote no longer swallows every row after it
                yield "line", number, None, f"not well-formed CSV: {exc}{text_lines.csv_hint(exc)}"
                continue
            if row is None:
                break
            if not row or row == [""]:
                continue
            if number == 1 and [cell.strip().lower() for cell in row[:2]] == ["path", "views"]:
                continue
            if len(row) != 2:
                yield "line", number, None, f"expected 2 columns (path,views), found {len(row)}"
                continue
            yield "line", number, row[0].strip(), row[1].strip()
    except UnicodeDecodeError:
        raise BadRequest("the CSV is not UTF-8 text") from None
    except csv.Error as exc:
        raise BadRequest(f"the CSV cannot be read: {exc}") from None


def json_rows(stream: IO[bytes]) -> Iterator[tuple[str, int, object, object]]:
    """(\"entry\", number, path, views) of ``{"pages": {path: views, ...}}``, parsed as it streams."""
    try:
        for number, (path, views) in enumerate(json_stream.members(stream, "pages", "map", MAX_JSON_DEPTH, 100), 1):
            yield "entry", number, path, views
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"body is not {{\"pages\": {{path: views}}}} JSON: {str(exc)[:200]}") from None


def run_import(rows: Iterable[tuple[str, int, object, object]], page_params: tuple[str, ...],
               write: callable) -> ImportReport:
    """Check every row, then write the good ones with ``write(chunk)``; raises BadRequest, writing nothing."""
    report = ImportReport()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        for where, number, path, views in rows:
            report.rows_read += 1
            if report.rows_read > MAX_ROWS:
                raise BadRequest(f"at most {MAX_ROWS:,} rows per import")
            if path is None:
                report.reject(where, number, str(views))
                continue
            problem = _check(path, views)
            if problem:
                report.reject(where, number, problem)
                continue
            spool.write(f"{page_key(path, page_params)}\t{int(views)}\n")
            report.imported += 1
        if not report.rows_read:
            raise BadRequest("no rows: send path,views lines or {\"pages\": {path: views}}")
        spool.seek(0)
        chunk = []
        for line in spool:
            page, _, views = line.rstrip("\n").rpartition("\t")
            chunk.append((page, int(views)))
            if len(chunk) == CHUNK_ROWS:
                report.changed += write(chunk)
                chunk = []
        if chunk:
            report.changed += write(chunk)
    return report


def _check(path: object, views: object) -> str | None:
    if not isinstance(path, str) or not path.startswith(("/", "http://", "https://")) or len(path) > 2048:
        return "the path must start with / (or be an http(s) URL), at most 2048 characters"
    if isinstance(views, str):
        views = views.strip()
        if not (views.isascii() and views.isdigit()):
            return "views must be a whole number"
        views = int(views)
    elif isinstance(views, float) and views.is_integer():
        views = int(views)
    if type(views) is not int or not 0 <= views <= MAX_VIEWS:
        return f"views must be a whole number from 0 to {MAX_VIEWS}"
    return None
