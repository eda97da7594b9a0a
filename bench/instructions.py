#!/usr/bin/env python
"""Instructions a hit costs above the floor, counted by valgrind: a figure this noisy machine repeats.

    .venv/bin/python bench/instructions.py [--hits 1000] [--agents pool|fresh]

req/s and CPU µs move by a fifth between runs of the same hour here (docs/sizing.md), more than
most single changes to the hit path. Instructions do not: the floor route and the hit route run
through Flask's test client (no gunicorn, no HTTP) under ``valgrind --tool=cachegrind``, each twice
(``--hits`` and three times as many), and the difference of the two totals over the extra hits is
what one request costs, start-up and warm-up cancelled out. Repeats agree within ~5,000
instructions (thread timing). Redis's own work is not counted: it runs in its own process.

Time-based caches would expire 50 times more often per request under valgrind, so the site
cache lasts an hour here and the flusher writes every 10 s (batches of ~500 hits): the flusher's
cost per hit is that of large batches. Needs Debian's ``valgrind`` (``scripts/system-deps.sh bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.launch import BENCH_ENV, Redis, service_env  # noqa: E402
from bench.report import fmt, table  # noqa: E402

POOL_AGENTS = 200
"""The pooled User-Agents: each is seen twice in the warm-up (its verdicts cached, its visit ongoing)."""
WARM_HITS = 2 * POOL_AGENTS
"""Requests before the counted ones: caches filled, every lazy import done."""
ROUTES = {"floor": "/bench/floor", "hit": "/api/v1/hit"}


def prepared(route: str, agents: str):
    """The app with one site, and ``send(i)``: request i of a run of one route through the test client
    (a pooled agent, or from the first counted request on with agents='fresh', a new one each)."""
    from bench.floor import create_app
    from service.model.sites import Site

    app = create_app()
    store = app.extensions["store"]
    store.put_site(Site("bench-a", ("bench-a.bench.example.vn",), "Asia/Ho_Chi_Minh"))
    client = app.test_client()
    body = json.dumps({"site": "bench-a", "url": "https://bench-a.bench.example.vn/tin-tuc/bai-1.html",
                       "referrer": "https://www.google.com.vn/", "title": "Bài 1"}).encode()
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://bench-a.bench.example.vn"}
    pool = [f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{100 + i % 26}.0.{i}.{i % 200} Safari/537.36" for i in range(POOL_AGENTS)]

    def send(i: int) -> None:
        agent = pool[i % len(pool)] if agents == "pool" or i < WARM_HITS else f"{pool[i % len(pool)]} X/{i}"
        client.post(ROUTES[route], data=body, headers={**headers, "User-Agent": agent},
                    environ_base={"REMOTE_ADDR": "127.0.0.1"})
    return app, send


def inner(route: str, hits: int, agents: str) -> None:
    """Run under valgrind: WARM_HITS then ``hits`` requests of one route through the test client."""
    app, send = prepared(route, agents)
    for i in range(WARM_HITS + hits):
        send(i)
    app.extensions["recorder"].flush()


def inner_env(redis_url: str, folder: Path) -> dict[str, str]:
    """The environment of an inner run: the bench's settings, one hour of site cache, a 10 s flush."""
    (folder / "metrics").mkdir(parents=True, exist_ok=True)
    return {**service_env(), **BENCH_ENV, "REDIS_URL": redis_url, "PYTHONHASHSEED": "0",
            "SITE_CACHE_SECONDS": "3600", "FLUSH_INTERVAL_MS": "10000", "LOG_LEVEL": "ERROR",
            "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"), "JOURNAL_DIR": str(folder / "journal"),
            "ADMIN_TOKEN": "instructions-" + "0" * 32}


def counted(route: str, hits: int, agents: str, redis_url: str, workdir: Path) -> int:
    """Instructions of one whole valgrind run (start-up included)."""
    folder = Path(tempfile.mkdtemp(prefix=f"{route}-{hits}-", dir=workdir))
    env = inner_env(redis_url, folder)
    done = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no",
                           f"--cachegrind-out-file={folder / 'cachegrind.out'}", sys.executable, __file__,
                           "--inner", route, "--hits", str(hits), "--agents", agents],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode or not found:
        raise SystemExit(f"valgrind run of {route} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=1000, help="requests of the shorter run (the longer: 3 times)")
    parser.add_argument("--agents", choices=("pool", "fresh"), default="pool",
                        help=f"pool: {POOL_AGENTS} agents seen in the warm-up; fresh: a new agent every request")
    parser.add_argument("--inner", choices=tuple(ROUTES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.hits, args.agents)
        return 0
    for tool in ("valgrind", "redis-server"):
        if not shutil.which(tool):
            print(f"error: {tool} not found on PATH (apt-get install {tool})", file=sys.stderr)
            return 2
    workdir = Path(tempfile.mkdtemp(prefix="va-instructions-"))
    redis = Redis(workdir / "redis").start()
    try:
        runs = [(route, hits) for route in ROUTES for hits in (args.hits, 3 * args.hits)]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            totals = dict(zip(runs, pool.map(lambda run: counted(*run, args.agents, redis.url, workdir), runs)))
    finally:
        redis.stop()
    per = {route: (totals[route, 3 * args.hits] - totals[route, args.hits]) / (2 * args.hits) for route in ROUTES}
    print(table(["route", "instructions a request", "hit / floor"],
                [[route, fmt(per[route]), f"{per[route] / per['floor']:.3f}"] for route in ROUTES]))
    print(f"\nA hit costs {fmt(per['hit'] - per['floor'])} instructions more than the floor "
          f"({args.agents} agents; {args.hits} and {3 * args.hits} requests a run).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
