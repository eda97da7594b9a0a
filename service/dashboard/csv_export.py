"""CSV downloads: UTF-8 with a BOM (Excel then reads Vietnamese right), a header row, no formulas."""

from __future__ import annotations

import csv
import io
import re

from flask import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these runs as a formula in a spreadsheet (CSV injection)."""
FORMULA_PART = re.compile(r"""(^|[,;\t\r\n])([\s"']*)(?=[=+\-@\t\r])""")
"""The start of the cell, or of a part of it after a list separator (``,``, ``;`` or tab: a
spreadsheet set to another separator may split the cell there) or a line break (with another
separator the quotes no longer hold the cell, and the rest of it begins a row), followed by a
formula character (after blanks and quotes, which importers strip)."""


def cell(value) -> str | int:
    """A value as a safe cell: text that a spreadsheet would run, at its start or after a separator,
    gets an apostrophe before the formula character."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = "" if value is None else str(value)
    return FORMULA_PART.sub(lambda m: f"{m.group(1)}{m.group(2)}'", text)


def download(filename: str, header: list[str], rows: list[list]) -> Response:
    """A CSV attachment of ``rows`` under ``header``, every cell quoted (a ``;`` or tab inside one
    then splits nothing, whatever separator the spreadsheet expects)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in rows)
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
