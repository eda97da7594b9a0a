"""Section 2: Redis commands and round trips per counted hit, from the hit section's runs."""

from __future__ import annotations

import collections

from .report import Section, fmt, table


def per_hit(summary: dict) -> dict:
    """Commands, script time, batches and round trips per counted hit of one mode and mix."""
    hits = summary["hits"]
    counted = sum(h["counted"] for h in hits)
    commands, usec = collections.Counter(), collections.Counter()
    for h in hits:
        commands.update(h["commands"])
        usec.update(h["redis_usec"])
    evalsha = commands.get("evalsha", 0) + commands.get("eval", 0)
    batches = sum(h["batches"] for h in hits)
    # Round trips: one per EVALSHA when each hit is written before answering; one per batch
    # (one EVALSHA a batch; on Cluster one per site) when hits are batched; plus site-settings refreshes.
    trips = (batches if summary["mode"].flush_ms else evalsha) + commands.get("hgetall", 0)

    def share(value):
        return value / counted if counted else None

    return {"requests": sum(h["requests"] for h in hits), "counted": counted,
            "commands_per_hit": share(sum(commands.values())), "evalsha_per_hit": share(evalsha),
            "batches_per_hit": share(batches), "hits_per_batch": counted / batches if batches else None,
            "trips_per_hit": share(trips), "commands": dict(commands.most_common()),
            "usec_per_hit": {k: v / counted for k, v in usec.most_common()} if counted else {}}


def section(summaries: list[dict]) -> Section:
    rows = []
    for s in summaries:
        if "error" in s:
            continue
        p = per_hit(s)
        top = ", ".join(f"{k} {v / p['counted']:.2f}" for k, v in list(p["commands"].items())[:6]) if p["counted"] else ""
        script = sum(v for k, v in p["usec_per_hit"].items() if k in ("evalsha", "eval"))
        inner = ", ".join(f"{k} {v:.1f}" for k, v in list((k, v) for k, v in p["usec_per_hit"].items()
                                                           if k not in ("evalsha", "eval"))[:4])
        not_counted = ", ".join(f"{k} {v:,}" for k, v in s["not_counted"].items()) or "none"
        rows.append([s["mode"].name, s["mix"], f"{p['requests']:,}", f"{p['counted']:,}", not_counted,
                     fmt(p["commands_per_hit"], 1), fmt(p["evalsha_per_hit"], 3), fmt(p["batches_per_hit"], 3),
                     fmt(p["hits_per_batch"], 0), f"**{fmt(p['trips_per_hit'], 3)}**", top, f"{script:.1f} ({inner})"])
    body = table(["mode", "agents", "hit requests", "hits counted", "not counted", "Redis commands/hit",
                  "EVALSHA/hit", "batches/hit", "hits/batch", "round trips/hit",
                  "commands per hit (top 6, incl. inside Lua)",
                  "Redis µs/hit in the script (top commands inside it)"], rows)
    intro = ("From `INFO commandstats` deltas around each hit run (the benchmark's own reads subtracted); "
             "commands called inside the Lua script count as commands. Hits counted = growth of the sites' "
             "all-time pageviews (a few dozen more than wrk's completed requests: those in flight when wrk "
             "stops are counted too). Round trips: EVALSHA calls when each hit is written before answering "
             "(flush 0); flushed batches (`va_flush_duration_seconds_count`, one pipeline per batch) when "
             "batching; plus the site-settings HGETALLs (one per site per worker per SITE_CACHE_SECONDS). "
             "Redis µs: `usec` of EVALSHA (the whole script) per counted hit, and of the costliest "
             "commands run inside it.")
    return Section("Redis commands and round trips per counted hit", intro, body)
