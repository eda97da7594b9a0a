"""Section 6: where the time goes, by py-spy, for the floor, a cached-agent hit and a new-agent hit."""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .hit import MIXES
from .launch import BENCH, ROOT, Bench, Load, Mode, Service, finish_wrk, log, start_wrk, warm_up
from .report import Section, fmt, table

PROFILE_BUCKETS = [
    # (label, regex on one py-spy frame "Class.function (package/file.py:line)"); inclusive: a
    # sample counts once in every bucket one of its frames matches.
    ("whole request inside Flask (Flask.wsgi_app)", r"^Flask\.wsgi_app "),
    ("gunicorn outside Flask (accept, HTTP parse, write, close)", None),
    ("hit flusher thread (batched writes)", r"^BufferedRecorder\._run "),
    ("logs.py hooks (timer, request id, duration histogram)", r"\(service/ops/logs\.py"),
    ("prometheus_client (any)", r"\(prometheus_client/"),
    ("secrets.token_hex (request ids, batch ids)", r"^token_hex "),
    ("HitPipeline.count (the hit route's own work)", r"^HitPipeline\.count "),
    ("Beacon.from_post (read body, JSON, page host)", r"^Beacon\.from_post "),
    ("json (body decode)", r"\(json/"),
    ("find_site (site cache)", r"^find_site "),
    ("drop_reason (filters)", r"^drop_reason "),
    ("crawler matcher (service/ingest/crawlers.py)", r"\(service/ingest/crawlers\.py"),
    ("crawlerdetect (its own regex)", r"\(crawlerdetect/"),
    ("CounterStore.salt", r"^CounterStore\.salt "),
    ("visitor_id (BLAKE2b)", r"^visitor_id "),
    ("BufferedRecorder.record (write or enqueue)", r"^BufferedRecorder\.record "),
    ("CounterStore.record_hits (keys + EVALSHA)", r"^CounterStore\.record_hits "),
    ("keys.py, periods.py / zoneinfo (key names, day math)", r"\(service/storage/keys\.py|\(service/model/periods\.py|\(zoneinfo/"),
    ("redis-py client (any)", r"\(redis/"),
    ("werkzeug (any)", r"\(werkzeug/"),
    ("gunicorn access-log atoms (glogging)", r"\(gunicorn/glogging\.py"),
]
IDLE_FRAMES = re.compile(r"^(Arbiter\.(wait_for_signals|sleep)|Condition\.wait|Event\.wait) ")
"""Leaf frames of threads that wait (the master's loop, the flusher's sleep): not request work."""
RUNS = (("floor", "/bench/floor", "pool"), ("hit, pooled agents", "/api/v1/hit", "pool"),
        ("hit, a new agent each request", "/api/v1/hit", "fresh"))


def parse_raw_profile(path: Path) -> list[tuple[list[str], int]]:
    """Worker stacks of a `py-spy record --subprocesses -f raw` file (the master's are dropped)."""
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        parts = stack.split(";")
        processes = [f for f in parts if f.startswith("process ")]
        frames = [f for f in parts if not f.startswith("process ") and not f.startswith("thread ")]
        if len(processes) < 2 or (frames and IDLE_FRAMES.search(frames[-1])):
            continue
        stacks.append((frames, int(count)))
    return stacks


def breakdown(stacks, rate: int, requests: float) -> dict:
    """Samples per bucket and per leaf frame, and Python µs per request."""
    total = sum(c for _, c in stacks)
    out = {"samples": total, "cpu_us_per_request": total / rate / requests * 1e6 if requests else None,
           "buckets": {}, "self": collections.Counter()}
    compiled = [(label, re.compile(rx) if rx else None) for label, rx in PROFILE_BUCKETS]
    flask, flusher = compiled[0][1], compiled[2][1]
    for frames, count in stacks:
        outside = not any(flask.search(f) or flusher.search(f) for f in frames)
        for label, rx in compiled:
            if (outside if rx is None else any(rx.search(f) for f in frames)):
                out["buckets"][label] = out["buckets"].get(label, 0) + count
        if frames:
            out["self"][re.sub(r":\d+\)$", ")", frames[-1])] += count
    return out


def record(spy: str, service: Service, url: str, load: Load, args, output: Path, raw: bool = True) -> float:
    """py-spy the service while wrk loads `url`; answer wrk's req/s."""
    wrk = start_wrk(url, load, args.profile_seconds + 2, args.connections, args.wrk_threads)
    time.sleep(1)
    subprocess.run([spy, "record", "--pid", str(service.process.pid), "--subprocesses", "--gil",
                    "-d", str(args.profile_seconds), "-r", str(args.profile_rate),
                    *(["-f", "raw"] if raw else []), "-o", str(output)], capture_output=True, timeout=120)
    return finish_wrk(wrk)["rps"]


def measure(bench: Bench, modes: list[Mode]) -> list[dict]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        log("profile: py-spy not found (pip install py-spy); skipped")
        return []
    args, out_dir, results = bench.args, BENCH / "profile", []
    out_dir.mkdir(exist_ok=True)
    for mode in modes:
        log(f"profile: {mode.name}")
        with Service(mode, bench.store.url, bench.workdir).start() as service:
            warm_up(service, bench.store, args)
            for kind, path, mix in RUNS:
                raw = out_dir / f"{mode.key}-{kind.split(',')[0]}{'-' + mix if kind != 'floor' else ''}.txt"
                rps = record(spy, service, service.base + path, MIXES[mix][1](args.agents), args, raw)
                stacks = breakdown(parse_raw_profile(raw), args.profile_rate, rps * args.profile_seconds) \
                    if raw.exists() else {}
                results.append({"mode": mode, "kind": kind, "rps": rps, "breakdown": stacks,
                                "raw": str(raw.relative_to(ROOT))})
                log(f"  {kind}: {rps:,.0f} req/s under py-spy, {stacks.get('samples', 0)} samples")
            if mode == modes[0]:
                record(spy, service, service.base + "/api/v1/hit", MIXES["fresh"][1](args.agents), args,
                       BENCH / "profile-hit.svg", raw=False)
    return results


def profile_tables(results: list[dict]) -> str:
    parts = []
    for mode in dict.fromkeys(r["mode"] for r in results):
        runs = [r for r in results if r["mode"] == mode and r["breakdown"].get("samples")]
        if len(runs) < 2:
            continue

        def per_request(b, label):
            return b["buckets"].get(label, 0) / b["samples"] * b["cpu_us_per_request"]

        rows = [["**all GIL-held samples**", *(fmt(r["breakdown"]["cpu_us_per_request"]) for r in runs)]]
        for label, _ in PROFILE_BUCKETS:
            values = [per_request(r["breakdown"], label) for r in runs]
            if max(values) >= 1:
                rows.append([label, *(fmt(v) for v in values)])
        rates = ", ".join(f"{r['kind']} {r['rps']:,.0f} req/s" for r in runs)
        parts.append(f"**{mode.name}** ({rates} under py-spy; raw stacks in `bench/profile/`)\n\n"
                     + table(["where (inclusive; buckets overlap)", *(f"{r['kind']}: Python µs/req" for r in runs)],
                             rows))
        last = runs[-1]["breakdown"]
        top = [[frame.replace("|", "\\|"), f"{count / last['samples'] * 100:.1f} %",
                fmt(count / last["samples"] * last["cpu_us_per_request"])]
               for frame, count in last["self"].most_common(12)]
        parts.append(f"Top self frames, {runs[-1]['kind']}, {mode.name}:\n\n" + table(["frame (leaf)", "share", "µs/req"], top))
    return "\n\n".join(parts)


def run(bench: Bench, modes: list[Mode]) -> list[Section]:
    results = measure(bench, modes)
    if not results:
        return []
    bench.raw["profile"] = [{**r, "mode": r["mode"].key} for r in results]
    args = bench.args
    intro = (f"`py-spy record --gil --subprocesses -r {args.profile_rate}` on the gunicorn master "
             f"for {args.profile_seconds} s under the same wrk loads, after the same warm-up. `--gil` keeps only "
             "samples of the thread holding the GIL: Python CPU. Kernel time (socket syscalls), waiting for "
             "Redis and C code that releases the GIL (Hyperscan's scan) are not sampled (compare with the /proc "
             "CPU columns above). Python µs/req = worker samples / rate / requests served. Flame graph of the "
             "new-agent hit (image default mode, same flags): `bench/profile-hit.svg`.")
    return [Section("Where the time goes: py-spy, floor vs hit", intro, profile_tables(results))]
