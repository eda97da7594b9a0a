"""The sources and devices answers, shaped from a period's summed day hashes (no I/O)."""

from __future__ import annotations

from collections import Counter

CHANNELS = ("direct", "search", "social", "email", "internal", "referral", "campaign")


def _ranked(counts: Counter, key: str) -> list[dict]:
    """``[{key: name, "visits": n}]``, most visits first, then by name."""
    return [{key: name, "visits": visits} for name, visits in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def sources_answer(sums: dict[str, Counter], limit: int) -> dict:
    """Visits by channel (all, summing to the period's visits) and the ``limit`` top named sources."""
    channels: Counter = Counter()
    named = []
    for field, visits in sums["sources"].items():
        channel, _, name = field.partition("|")
        channels[channel] += visits
        if name:
            named.append({"name": name, "channel": channel, "visits": visits})
    named.sort(key=lambda s: (-s["visits"], s["name"], s["channel"]))
    return {"visits": sum(channels.values()), "channels": _ranked(channels, "channel"), "sources": named[:limit]}


def devices_answer(sums: dict[str, Counter]) -> dict:
    """Visits by device, browser, OS and in-app browser: each list sums to the period's visits."""
    return {"visits": sum(sums["devices"].values()), "devices": _ranked(sums["devices"], "name"),
            "browsers": _ranked(sums["browsers"], "name"), "os": _ranked(sums["os"], "name"),
            "apps": _ranked(sums["apps"], "name")}
