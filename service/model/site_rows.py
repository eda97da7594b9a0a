"""Many sites at once: the rows of a bulk import (CSV or JSON, parsed as they stream) and its report.

A row is checked on its own: a bad one is reported with its number and changes nothing, the
others apply. Rows are numbered from 1, the CSV's header not counted (row 1 is the first site).
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator
from typing import IO

import ijson

from ..errors import BadRequest
from . import json_stream, text_lines
from .sites import MAX_DOMAINS, Site, valid_site_id

MAX_JSON_DEPTH = 8
"""Deepest nesting a sites import's JSON may have ({"sites": [{"domains": [...]}]} needs four levels)."""
MAX_ENTRY_VALUES = 4 * MAX_DOMAINS + 200
"""Most JSON values one site entry may hold (its fields, a hundred domains, twenty page parameters)."""
MAX_ROWS = 10_000
"""Most rows one import may carry; the rest are reported as one error and not read."""
MAX_LINE_CHARS = 64 + MAX_DOMAINS * 256 + 128
"""Longest CSV line a row can need: an id, a hundred domains, a zone and a group."""
CSV_HEADER = ("site", "domains", "timezone", "group")


@dataclasses.dataclass
class Row:
    """One row as read: its number and fields, or why it could not be read."""

    number: int
    site: str | None
    body: dict | None = None
    problem: tuple[str, str] | None = None
    """(code, message) of a row that could not be read."""


@dataclasses.dataclass
class SitesReport:
    """What a bulk import did: counts and each refused row."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict] = dataclasses.field(default_factory=list)

    def refuse(self, number: int, site: object, code: str, message: str) -> None:
        self.errors.append({"row": number, "site": site if isinstance(site, str) else None,
                            "error": {"code": code, "message": message}})

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


def csv_rows(stream: IO[bytes]) -> Iterator[Row]:
    """The rows of a ``site,domains,timezone,group`` CSV (UTF-8, header first, domains space-separated)."""
    try:
        reader = csv.reader(text_lines.bounded_lines(stream, MAX_LINE_CHARS, lambda: BadRequest(
            "a CSV line is longer than any site row can be")), strict=True)
        header = next(reader, None)
        names = [cell.strip().lower() for cell in header or ()]
        if not names or "site" not in names or "domains" not in names or set(names) - set(CSV_HEADER):
            raise BadRequest("the CSV's first line must be the header site,domains,timezone,group")
        number = 0
        while True:
            try:
                cells = next(reader, None)
            except csv.Error as exc:  # strict: an unterminated quote no longer swallows every row after it
                number += 1
                yield Row(number, None, problem=("bad_row", f"this row is not well-formed CSV: {exc}{text_lines.csv_hint(exc)}"))
                continue
            if cells is None:
                break
            if not cells or cells == [""]:
                continue
            number += 1
            if len(cells) != len(names):
                yield Row(number, cells[0].strip() or None, problem=(
                    "bad_row", f"expected {len(names)} columns ({','.join(names)}), found {len(cells)}"))
                continue
            fields = {name: cell.strip() for name, cell in zip(names, cells)}
            yield Row(number, fields["site"], {"domains": fields["domains"].split(),
                                               "timezone": fields.get("timezone", ""), "group": fields.get("group", "")})
    except UnicodeDecodeError:
        raise BadRequest("the CSV is not UTF-8 text") from None
    except csv.Error as exc:
        raise BadRequest(f"the CSV cannot be read: {exc}") from None


def json_rows(stream: IO[bytes]) -> Iterator[Row]:
    """The rows of ``{"sites": [{"site", "domains", "timezone", "group"}, ...]}``, parsed as they stream."""
    try:
        for number, (_, entry) in enumerate(json_stream.members(stream, "sites", "array", MAX_JSON_DEPTH, MAX_ENTRY_VALUES), 1):
            if not isinstance(entry, dict):
                yield Row(number, None, problem=("bad_row", "each entry must be an object"))
                continue
            body = {k: v for k, v in entry.items() if k != "site"}
            if isinstance(body.get("domains"), str):
                body["domains"] = body["domains"].split()
            yield Row(number, entry.get("site"), body)
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"body is not {{\"sites\": [...]}} JSON: {str(exc)[:200]}") from None


def site_of(row: Row, existing: Site | None, default_timezone: str) -> Site:
    """The Site a row asks for, or BadRequest: an empty zone keeps the site's own (or the default),
    and the page parameters, which a row does not carry, stay as they are."""
    if not valid_site_id(row.site):
        raise BadRequest("site must match [a-z0-9][a-z0-9-]{0,62}")
    body = dict(row.body or {})
    if not body.get("timezone"):
        body["timezone"] = existing.timezone if existing else default_timezone
    if "page_params" not in body and existing:
        body["page_params"] = list(existing.page_params)
    return Site.from_request(row.site, body, default_timezone)


def csv_text(sites: list[Site]) -> Iterator[str]:
    """The sites as the import reads them back: the header, then one line per site."""
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for site in sites:
        writer.writerow([site.id, " ".join(site.domains), site.timezone, site.group])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()
