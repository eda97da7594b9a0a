"""Charts drawn on the server as SVG geometry: no script library, nothing a CSP must allow."""

from __future__ import annotations

import dataclasses
import math

SERIES = ("pageviews", "visits", "visitors")
"""Drawn back to front: pageviews are the largest."""


@dataclasses.dataclass(frozen=True)
class Chart:
    """What the chart template draws, in viewBox units."""

    width: int
    height: int
    left: int
    top: int
    bottom: int
    lines: dict[str, str]
    """metric -> polyline points."""
    areas: dict[str, str]
    ticks: list[tuple[float, int]]
    """(y, value) of each horizontal grid line."""
    labels: list[tuple[float, int]]
    """(x, index of the day) of each date label."""
    columns: list[tuple[float, float]]
    """(x, width) of each day's hover column."""


def nice_ceiling(value: int) -> int:
    """The top of a four-step scale at or above ``value``, each step a round whole number."""
    quarter = max(value, 4) / 4
    power = 10 ** math.floor(math.log10(quarter))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= quarter and float(step * power).is_integer():
            return int(step * power) * 4
    return 40 * power


def daily_chart(rows: list[dict], width: int = 960, height: int = 280) -> Chart:
    """Lines of visits, pageviews and visitors per day, on one shared scale from zero."""
    left, right, top, bottom = 56, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(rows), 1)
    peak = nice_ceiling(max([r[m] for r in rows for m in SERIES] or [0]))
    step = plot_w / count

    def x(i: int) -> float:
        return round(left + step * (i + 0.5), 1)

    def y(v: int) -> float:
        return round(top + plot_h - plot_h * v / peak, 1)

    lines, areas = {}, {}
    base = top + plot_h
    for metric in SERIES:
        points = " ".join(f"{x(i)},{y(r[metric])}" for i, r in enumerate(rows))
        lines[metric] = points
        areas[metric] = f"{x(0)},{base} {points} {x(len(rows) - 1)},{base}" if rows else ""
    ticks = [(y(peak * n // 4), peak * n // 4) for n in range(5)]
    every = max(1, math.ceil(count / 7))
    labels = [(x(i), i) for i in range(len(rows) - 1, -1, -every)][::-1]
    columns = [(round(left + step * i, 1), round(step, 2)) for i in range(len(rows))]
    return Chart(width, height, left, top, base, lines, areas, ticks, labels, columns)


def sparkline(values: list[int], width: int = 120, height: int = 32) -> str:
    """Polyline points of a small trend line (scaled to its own peak)."""
    if not values:
        return ""
    peak = max(max(values), 1)
    step = (width - 4) / max(len(values) - 1, 1)
    return " ".join(f"{round(2 + step * i, 1)},{round(height - 3 - (height - 6) * v / peak, 1)}"
                    for i, v in enumerate(values))
