"""Charts drawn on the server as SVG geometry: no script library, nothing a CSP must allow."""

from __future__ import annotations

import dataclasses
import math
import zlib

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


@dataclasses.dataclass(frozen=True)
class Bar:
    """One row of a horizontal bar chart: its label above a bar whose length is its share of the whole."""

    name: str
    visits: int
    width: float
    """Percent of the chart's width (a nonzero share is never drawn thinner than MIN_BAR_PERCENT)."""
    label_y: int
    bar_y: int


@dataclasses.dataclass(frozen=True)
class BarChart:
    """What the bar chart template draws: heights in pixels, widths in percent (the text never scales)."""

    height: int
    bar_height: int
    bars: list[Bar]


MIN_BAR_PERCENT = 0.6
"""A sliver still shows as a bar: a channel with one visit in thousands is not nothing."""


def share_width(part: int, whole: int) -> float:
    """The length of ``part``'s bar, in percent of a full bar that stands for ``whole``."""
    if part <= 0 or whole <= 0:
        return 0.0
    return round(max(part * 100 / whole, MIN_BAR_PERCENT), 2)


def bar_chart(rows: list[tuple[str, int]], whole: int, row_height: int = 44, bar_height: int = 12) -> BarChart:
    """Horizontal bars of ``(name, visits)`` rows, each as long as its share of ``whole``, a label above each.

    Widths are percentages of the SVG's own width and heights pixels, so the chart fills a phone or a
    desktop card with its text at the page's size (a viewBox would shrink the labels on a phone).
    """
    bars = [Bar(name, visits, share_width(visits, whole), row_height * i + 16, row_height * i + 24)
            for i, (name, visits) in enumerate(rows)]
    return BarChart(row_height * len(rows), bar_height, bars)


TONES = 6
"""Background colours of the initials' circles (.tone-0 … .tone-5 in dashboard.css, each AA on white text)."""


def initials(name: str) -> str:
    """A source's initials for its small circle: "G" for Google, "CC" for Cốc Cốc, "V" for vnexpress.net."""
    text = name.strip()
    if "." in text and " " not in text:  # a host name: its first label
        text = text.split(".")[0] or text
    words = [w for w in text.split() if any(c.isalnum() for c in w)]
    if not words:
        return "?"
    return "".join(next(c for c in w if c.isalnum()).upper() for w in words[:2])


def tone(name: str) -> int:
    """A steady colour for a source's circle, the same on every screen and in every process."""
    return zlib.crc32(name.encode("utf-8", "surrogatepass")) % TONES
