#!/usr/bin/env python
"""Benchmark visitor-analytics on this machine and write bench/RESULTS.md.

    .venv/bin/python bench/run.py [--quick] [--duration S] [--only hit,counters,micro,memory,pages,profile,province]

Starts a private redis-server (AOF off) and the service under gunicorn with the image's
command, drives it with wrk over loopback, reads Redis's INFO, and prints one markdown table
per section. See bench/README.md for what each figure means; one module per section:
hit.py (+ round_trips.py), pollers.py, micro.py, memory.py, pages.py, profiling.py; launch.py starts
and measures the processes, report.py writes the results.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)   # the project, not bench/, comes first

from bench import hit, memory, micro, pages, pollers, profiling, province, report  # noqa: E402
from bench.launch import BENCH, IMAGE_DEFAULT, MODES, Bench, Mode, Redis, log  # noqa: E402


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs (3 s, 2 rounds, fewer hits): a smoke run")
    parser.add_argument("--duration", type=float, help="seconds of each wrk run of the hit/floor section")
    parser.add_argument("--rounds", type=int, help="interleaved floor/hit pairs per mode and mix")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c of the hit/floor runs (default 32)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk -t of the hit/floor runs (default 1)")
    parser.add_argument("--agents", type=int, default=2000, help="distinct pooled User-Agents (default 2000)")
    parser.add_argument("--mixes", default="pool,fresh,long", help="User-Agent mixes of the hit section")
    parser.add_argument("--modes", help="comma-separated mode keys, e.g. gthread-2x4-f0,sync-2x1-f20")
    parser.add_argument("--only", default="hit,counters,memory,pages,profile,micro", help="sections to run")
    parser.add_argument("--memory-hits", type=int, default=1_000_000, help="hits of the one-site memory scenario")
    parser.add_argument("--pages-days", type=int, default=400, help="simulated days of the pages section")
    parser.add_argument("--pages-views", type=float, help="views a page a day of the pages section (3, quick 1)")
    parser.add_argument("--results", default=str(BENCH / "RESULTS.md"), help="markdown output path")
    args = parser.parse_args()
    args.duration = args.duration or (3 if args.quick else 10)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.counters_duration = max(args.duration, 6 if args.quick else 15)
    args.memory_hits_per_day = 250 if args.quick else 2500
    args.pages_views = args.pages_views or (1 if args.quick else 3)
    args.warm_passes = 4  # each worker must see each pooled User-Agent, so the pool's verdicts are cached
    args.profile_seconds = 4 if args.quick else 8
    args.profile_rate = 100
    return args


def chosen_modes(wanted: str | None) -> list[Mode]:
    if not wanted:
        return MODES
    keys = wanted.split(",")
    return [m for m in MODES if m.key in keys] or [m for m in MODES if any(k in m.key for k in keys)]


def main() -> int:
    args = options()
    for tool in ("wrk", "redis-server"):
        if not shutil.which(tool):
            print(f"error: {tool} not found on PATH (apt-get install {tool})", file=sys.stderr)
            return 2
    about, workdir = report.machine(), Path(tempfile.mkdtemp(prefix="va-bench-"))
    bench = Bench(Redis(workdir / "redis").start(), workdir, args)
    log(f"redis-server (AOF off) at {bench.store.url}; work files in {workdir}")
    modes = chosen_modes(args.modes)
    sections = {"hit": lambda: hit.run(bench, modes), "counters": lambda: pollers.run(bench),
                "micro": lambda: micro.run(bench), "memory": lambda: memory.run(bench),
                "pages": lambda: pages.run(bench), "province": lambda: province.run(bench),
                "profile": lambda: profiling.run(bench, [IMAGE_DEFAULT, Mode("sync", 2, 1, 20)])}
    done: list[report.Section] = []
    try:
        for name, section in sections.items():
            if name not in args.only.split(","):
                continue
            try:
                done += section()
            except Exception as exc:  # noqa: BLE001 - one failed section is noted; the others still run
                log(f"section {name} failed: {exc!r}\n{traceback.format_exc()}")
                done.append(report.Section(f"Section '{name}' failed", f"`{exc!r}`"[:2000], ""))
    finally:
        bench.store.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    raw = {"args": {k: v for k, v in vars(args).items()}, **bench.raw}
    print(report.write(Path(args.results), about, done, raw, args.quick))
    log(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
