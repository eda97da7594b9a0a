"""CSV downloads: UTF-8 with a BOM (Excel then reads Vietnamese right), a header row, no formulas."""

from __future__ import annotations

import csv
import io

from flask import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these runs as a formula in a spreadsheet (CSV injection)."""


def cell(value) -> str | int:
    """A value as a safe cell: text that a spreadsheet would run gets a leading apostrophe."""
    if isinstance(value, int):
        return value
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def download(filename: str, header: list[str], rows: list[list]) -> Response:
    """A CSV attachment of ``rows`` under ``header``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in rows)
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
