#!/usr/bin/env python
"""Python calls a hit makes above the floor, counted by cProfile: a figure that does not move between runs.

    .venv/bin/python bench/calls.py [--hits 400] [--agents pool|fresh] [--top 20]

Neither req/s nor valgrind's instruction counts (``bench/instructions.py``: ±10,000 a hit between
identical runs, the garbage collector's timing) can tell apart a change of 1 % to the hit path on
this machine. Python calls can: the floor route and the hit route run through Flask's test client
(no gunicorn, no HTTP) in a fresh process each, and cProfile counts every call (Python functions
and C functions alike) of ``--hits`` requests after a warm-up. The hits stay buffered and are
written by one flush in the profiled thread at the end, so the flusher's calls for a batch of
``--hits`` hits (one site) count too. A count weighs a dict lookup like a regex run: it says what
a change removed or added, not what that cost; read it beside the instructions and the bench.
Repeats agree exactly, but for a periodic check (the day's salt, the sites' domains) that falls in
a run now and then.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.instructions import ROUTES, WARM_HITS, inner_env, prepared  # noqa: E402
from bench.launch import Redis  # noqa: E402
from bench.report import fmt, table  # noqa: E402

def inner(route: str, hits: int, agents: str) -> None:
    """Print, as JSON, the calls per request of ``hits`` requests of one route, by function."""
    import cProfile
    import pstats

    app, send = prepared(route, agents)
    recorder = app.extensions["recorder"]
    for i in range(WARM_HITS):
        send(i)
    recorder.flush()
    profile = cProfile.Profile()
    profile.enable()
    for i in range(WARM_HITS, WARM_HITS + hits):
        send(i)
    recorder.flush()  # in this thread: the flusher's calls for these hits are counted
    profile.disable()
    stats = pstats.Stats(profile).stats
    functions: dict[str, float] = {}
    for (file, line, name), (_, calls, *_rest) in stats.items():
        where = f"{Path(file).name}:{line}" if file != "~" else "C"
        key = f"{name} ({where})"
        functions[key] = functions.get(key, 0) + calls / hits
    print(json.dumps({"calls": sum(functions.values()), "functions": functions}))


def counted(route: str, hits: int, agents: str, redis_url: str, workdir: Path) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"{route}-", dir=workdir))
    done = subprocess.run([sys.executable, __file__, "--inner", route, "--hits", str(hits), "--agents", agents],
                          cwd=ROOT, env=inner_env(redis_url, folder), capture_output=True, text=True, timeout=600)
    line = next((line for line in reversed(done.stdout.splitlines()) if line.startswith("{")), None)
    if done.returncode or line is None:
        raise SystemExit(f"the {route} run failed:\n{done.stderr[-2000:]}")
    return json.loads(line)


def main() -> int:
    from service.ingest.recorder import BATCH_SIZE

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Fewer than the recorder's BATCH_SIZE: a full batch would wake the flusher thread mid-run, unprofiled.
    parser.add_argument("--hits", type=int, default=400, help=f"requests counted (fewer than {BATCH_SIZE})")
    parser.add_argument("--agents", choices=("pool", "fresh"), default="pool",
                        help="pool: agents seen in the warm-up (verdicts cached, visits ongoing); "
                             "fresh: a new agent, so a new visitor, every request")
    parser.add_argument("--top", type=int, default=20, help="functions listed, by calls a hit more than the floor")
    parser.add_argument("--inner", choices=tuple(ROUTES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 0 < args.hits < BATCH_SIZE:
        parser.error(f"--hits must be 1 to {BATCH_SIZE - 1}")
    if args.inner:
        inner(args.inner, args.hits, args.agents)
        return 0
    if not shutil.which("redis-server"):
        print("error: redis-server not found on PATH (apt-get install redis-server)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="va-calls-"))
    redis = Redis(workdir / "redis").start()
    try:
        runs = {route: counted(route, args.hits, args.agents, redis.url, workdir) for route in ROUTES}
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    floor, hit = runs["floor"], runs["hit"]
    print(table(["route", "Python calls a request", "hit / floor"],
                [[route, fmt(run["calls"]), f"{run['calls'] / floor['calls']:.3f}"] for route, run in runs.items()]))
    print(f"\nA hit makes {fmt(hit['calls'] - floor['calls'])} calls more than the floor ({args.agents} agents, "
          f"{args.hits} requests a run, their flush included).\n")
    extra = {name: hit["functions"].get(name, 0) - floor["functions"].get(name, 0)
             for name in set(hit["functions"]) | set(floor["functions"])}
    top = sorted(extra.items(), key=lambda item: -abs(item[1]))[:args.top]
    if top:
        print(table(["function (file:line, C: built-in)", "calls a hit more than the floor"],
                    [[name, f"{more:+.2f}"] for name, more in top if more]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
