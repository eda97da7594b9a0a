"""The lines of a UTF-8 upload, each read at most so long, at a cost linear in the upload's bytes.

``codecs.getreader(...)`` iterated line by line grows a line by repeated concatenation: a 16 MiB
upload without a line break took 27 s of CPU, and the page baseline import (open to a site
token) takes 256 MiB. Here a buffered text reader hands out at most ``max_chars`` characters a
line, so a line too long is refused after reading just past the limit.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import IO


class _Raw(io.RawIOBase):
    """Any object with ``read(n)`` (werkzeug's request stream, an upload, a file) as a raw stream
    that io's buffered and text readers accept; closing it leaves the stream itself open."""

    def __init__(self, stream):
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def bounded_lines(stream: IO[bytes], max_chars: int, too_long: Callable[[], Exception]) -> Iterator[str]:
    """The lines of ``stream`` (UTF-8, a BOM dropped; any line break kept for csv), raising ``too_long()``
    for a line of more than ``max_chars`` characters and UnicodeDecodeError for bytes that are not UTF-8."""
    text = io.TextIOWrapper(io.BufferedReader(_Raw(stream)), encoding="utf-8-sig", errors="strict", newline="")
    while line := text.readline(max_chars + 1):
        if len(line) > max_chars:
            raise too_long()
        yield line


def csv_hint(error: Exception) -> str:
    """What a strict CSV reader's error means for the rows around it, when it is not plain."""
    if "end of data" in str(error):
        return " (a quote opened in this row is never closed: the rows after it were read into it)"
    return ""
