"""The members of one field of a JSON upload, parsed as it streams, at a cost linear in its bytes.

ijson's ``items``/``kvitems`` build every event's prefix ("pages.item.item...") as a new string:
a body of nested brackets costs memory quadratic in its depth (80 KB of ``[`` took 4 GiB, 200 KB
ran a worker out of the machine's memory), and a long key over many nested containers costs CPU
likewise. Here only ijson's basic events are read (no prefixes), nesting past ``max_depth`` is
refused, and each member is built on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import ijson
from ijson.common import ObjectBuilder

STARTS = ("start_map", "start_array")
ENDS = ("end_map", "end_array")


class _Reader:
    """ijson probes its input with read(0), which werkzeug's request stream takes for a client gone."""

    def __init__(self, stream):
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        return b"" if size == 0 else self.stream.read(size)


def members(stream: IO[bytes], field: str, kind: str, max_depth: int,
            max_member_events: int) -> Iterator[tuple[str | None, object]]:
    """(key, value) of each member of the top-level object's ``field`` when it is a ``kind`` ('map':
    an object; 'array': key None); anything else in the body is read and skipped. Raises ValueError
    (or ijson.JSONError) for broken JSON, nesting deeper than ``max_depth``, or a member that is a
    container of more than ``max_member_events`` values (built whole, it would hold the body many
    times over in memory: 32 MiB of ``1.5,`` in one list is 350 MiB of floats)."""
    level, top_key, inside, key = 0, None, False, None
    builder, nest = None, 0
    for event, value in ijson.basic_parse(_Reader(stream), use_float=True):
        if event in STARTS:
            level += 1
            if level > max_depth:
                raise ValueError(f"nested deeper than {max_depth} levels")
        elif event in ENDS:
            level -= 1
        if builder is not None:  # inside a member that is itself a container
            builder.event(event, value)
            nest += 1 if event in STARTS else -1 if event in ENDS else 0
            built += 1
            if built > max_member_events:
                raise ValueError(f"an entry holds more than {max_member_events} values")
            if nest == 0:
                yield key, builder.value
                builder = None
            continue
        if inside:
            if event in ENDS and level == 1:
                inside = False
            elif event == "map_key":
                key = value
            elif event in STARTS:
                builder, nest, built = ObjectBuilder(), 1, 0
                builder.event(event, value)
            else:
                yield key, value
        elif level == 1 and event == "map_key":
            top_key = value
        elif level == 2 and event == ("start_map" if kind == "map" else "start_array") and top_key == field:
            inside, key = True, None
