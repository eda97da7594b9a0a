"""Section 3: GET /api/v1/sites/<site>/counters under 10, 100 and 1,000 pollers."""

from __future__ import annotations

import collections
import time

from .launch import BENCH_ENV, IMAGE_DEFAULT, SITES, Bench, Load, Service, loadavg, log, run_wrk
from .report import Section, fmt, table


def measure(bench: Bench) -> list[dict]:
    store, args, mode, sites = bench.store, bench.args, IMAGE_DEFAULT, SITES[:3]
    log(f"counters: starting gunicorn {mode.name} (load {loadavg()})")
    rows = []
    with Service(mode, store.url, bench.workdir).start() as service:
        load = Load("get_counters.lua", sites=sites)
        run_wrk(service.base + "/", load, 1, 10, 1)   # warm up
        for connections in (10, 100, 1000):
            commands0, own0, t0 = store.commandstats(), collections.Counter(store.own_commands), time.monotonic()
            result = run_wrk(service.base + "/", load, args.counters_duration, connections, 2 if connections >= 100 else 1)
            elapsed = time.monotonic() - t0
            commands = {k: v for k, v in store.commands_since(commands0, own0).items()
                        if v and not k.startswith("usec:")}
            rows.append({
                "connections": connections, "rps": result["rps"], "p50": result["latency_us"]["p50"] / 1000,
                "p99": result["latency_us"]["p99"] / 1000, "errors": result["errors_total"],
                "requests": result["requests"], "window_seconds": elapsed,
                "zcount_per_s": commands.get("zcount", 0) / elapsed,
                "commands_per_s": sum(commands.values()) / elapsed,
                "commands": commands, "workers": mode.workers, "sites": len(sites),
            })
            log(f"  counters c={connections}: {result['rps']:,.0f} req/s, zcount {commands.get('zcount', 0)} "
                f"in {elapsed:.1f}s, errors {result['errors_total']}")
    return rows


def counters_table(rows: list[dict]) -> str:
    ttl = float(BENCH_ENV["COUNTERS_CACHE_SECONDS"])
    out = []
    for r in rows:
        # Each worker refreshes each site at most once per cache lifetime: in a window of T s,
        # at most workers × sites × (⌊T/ttl⌋ + 1) reads, whatever the number of pollers.
        ceiling = r["workers"] * r["sites"] * (int(r["window_seconds"] // ttl) + 1)
        zcount = r["commands"].get("zcount", 0)
        out.append([f"{r['connections']:,}", fmt(r["rps"]), f"{r['p50']:.1f} / {r['p99']:.1f}", r["errors"],
                    f"{r['window_seconds']:.1f}", f"{zcount} (≤ {ceiling})", f"**{r['zcount_per_s']:.2f}**",
                    f"{r['commands_per_s']:.2f}",
                    ", ".join(f"{k} {v}" for k, v in sorted(r["commands"].items()))])
    return table(["pollers (wrk -c)", "req/s", "p50 / p99 ms", "errors", "window s",
                  "Redis reads (ZCOUNT) in window (ceiling)", "Redis reads/s", "Redis commands/s (all)",
                  "commands in the window"], out)


def run(bench: Bench) -> list[Section]:
    rows = measure(bench)
    bench.raw["counters"] = rows
    intro = (f"{IMAGE_DEFAULT.name} (image default), COUNTERS_CACHE_SECONDS=5, 3 sites round-robin, no "
             f"If-None-Match, {bench.args.counters_duration:g} s per run. Every counters read from Redis is one "
             "pipeline with one ZCOUNT, so ZCOUNT/s = Redis reads/s. It must not grow with the pollers: each "
             "worker refreshes each site at most once per cache lifetime, so a window of T s holds at most "
             "workers × sites × (⌊T/5⌋ + 1) reads (short windows make the per-second figure jumpy).")
    return [Section("GET /api/v1/sites/<site>/counters under 10, 100, 1,000 pollers", intro, counters_table(rows))]
