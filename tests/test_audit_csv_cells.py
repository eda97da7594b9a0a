"""Audit: a CSV cell's text after a line break must be guarded like the text after a separator.

The downloads quote every cell, but a spreadsheet set to another list separator (``;`` where the file
uses ``,``) reads ``"ok","a`` with its quotes not at a field's start: they no longer hold the cell, so
a line break inside it ends the row and the rest begins a new one, unguarded. No value that reaches
a download today carries a line break (titles, paths, sources and browser names are cleaned of them),
so this is defence in depth for the next column that does.
"""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask

from service.dashboard.csv_export import cell, download


@pytest.mark.parametrize("value", ["a\n=1+1", "a\r-2+cmd|' /C calc'!A0", "a\r\n@SUM(1)", "x\n \"+1", "a\n\t=1"])
def test_text_after_a_line_break_is_guarded(value):
    guarded = cell(value)
    for line in guarded.replace("\r\n", "\n").replace("\r", "\n").split("\n")[1:]:
        assert not line.lstrip(" \"'\t").startswith(("=", "+", "-", "@")) or line.lstrip(" \"\t").startswith("'")


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_no_row_of_a_download_begins_a_formula_whatever_the_separator(separator):
    with Flask(__name__).app_context():
        text = download("x.csv", ["site", "name"], [["travinh", "Google\r=HYPERLINK(\"http://evil.example\")"]]) \
            .get_data(as_text=True)
    for row in csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=separator):
        for field in row:
            assert not field.lstrip(" \"").startswith(("=", "+", "-", "@")), (separator, field)
