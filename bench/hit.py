"""Section 1: POST /api/v1/hit against the framework floor, per gunicorn mode and User-Agent mix."""

from __future__ import annotations

import collections
import re

from . import round_trips
from .launch import IMAGE_DEFAULT, Bench, Load, Mode, Service, children_cpu, loadavg, log, run_wrk, wait_drained, \
    warm_up
from .report import Section, fmt, median, table

MIXES = {
    "pool": ("2,000 agents (verdicts cached)", lambda agents: Load(agents=agents)),
    "fresh": ("a new agent every request", lambda agents: Load("post_hit_fresh.lua", agents=agents)),
    "long": ("a new 1,024-char agent every request",
             lambda agents: Load("post_hit_fresh.lua", agents=agents, agent_chars=1024)),
}
"""User-Agent mixes: the key (--mixes), its label, and the wrk load that makes it."""
COUNTED = ("visit", "pageview", "ping")


def outcome_counts(metrics: dict[str, float]) -> dict[str, float]:
    out = {}
    for name, value in metrics.items():
        match = re.fullmatch(r'va_hits_total\{outcome="([a-z_]+)"\}', name)
        if match:
            out[match.group(1)] = value
    return out


def measure(bench: Bench, service: Service, kind: str, mix: str) -> dict:
    """One wrk run of `kind` ('floor' or 'hit') with the `mix` of agents, and the deltas around it."""
    store, args = bench.store, bench.args
    path = "/api/v1/hit" if kind == "hit" else "/bench/floor"
    metrics0 = service.metrics()
    commands0, own0 = store.commandstats(), collections.Counter(store.own_commands)
    pageviews0 = store.pageviews()
    cpu0, redis_cpu0, wrk_cpu0 = service.cpu_seconds(), store.cpu_seconds(), children_cpu()
    workers0 = service.worker_ticks()
    result = run_wrk(service.base + path, MIXES[mix][1](args.agents), args.duration, args.connections,
                     args.wrk_threads)
    if kind == "hit":
        wait_drained(service, store, quiet_polls=3 if service.mode.flush_ms else 1)
    cpu1, redis_cpu1, wrk_cpu1 = service.cpu_seconds(), store.cpu_seconds(), children_cpu()
    spent = [ticks - workers0.get(pid, ticks) for pid, ticks in service.worker_ticks().items()]
    pageviews1 = store.pageviews()
    commands = store.commands_since(commands0, own0)
    metrics1 = service.metrics()
    outcomes0, outcomes1 = outcome_counts(metrics0), outcome_counts(metrics1)
    n = max(result["requests"], 1)
    result.update({
        "kind": kind,
        "mix": mix,
        "counted": pageviews1 - pageviews0,
        "commands": {k: v for k, v in commands.items() if v and not k.startswith("usec:")},
        "redis_usec": {k.removeprefix("usec:"): v for k, v in commands.items() if k.startswith("usec:") and v},
        "batches": metrics1.get("va_flush_duration_seconds_count", 0) - metrics0.get("va_flush_duration_seconds_count", 0),
        "outcomes": {k: v - outcomes0.get(k, 0) for k, v in outcomes1.items() if v != outcomes0.get(k, 0)},
        "service_cpu_us": (cpu1 - cpu0) / n * 1e6,
        "redis_cpu_us": (redis_cpu1 - redis_cpu0) / n * 1e6,
        "wrk_cpu_us": (wrk_cpu1 - wrk_cpu0) / n * 1e6,
        # 1/workers: spread evenly; 1.0: one worker served it all (half the throughput on 2 cores)
        "busiest_worker_share": max(spent, default=0) / max(sum(spent), 1),
        "loadavg": loadavg(),
    })
    return result


def bench_mode(bench: Bench, mode: Mode, mixes: list[str]) -> dict:
    """Warm one mode up, then run floor, hit, floor, hit... for each mix; answer the runs."""
    log(f"mode {mode.name}: starting gunicorn (load {loadavg()})")
    service = Service(mode, bench.store.url, bench.workdir)
    try:
        service.start()
    except RuntimeError as exc:
        log(f"mode {mode.name} failed to start: {exc}")
        return {"mode": mode, "error": str(exc).splitlines()[0][:200], "log": service.log_tail()}
    with service:
        # Warm up: connection pools, the day's salt, site caches, the crawler matcher and its cache.
        warm_up(service, bench.store, bench.args)
        runs = []
        for round_number in range(bench.args.rounds):
            for mix in mixes:
                for kind in ("floor", "hit"):
                    run = measure(bench, service, kind, mix)
                    runs.append(run)
                    log(f"  {mode.name} round {round_number + 1} {mix} {kind}: {run['rps']:,.0f} req/s, "
                        f"{run['service_cpu_us']:,.0f} CPU µs/req, p99 {run['latency_us']['p99'] / 1000:.2f} ms, "
                        f"errors {run['errors_total']}, counted {run['counted']}, busiest worker "
                        f"{run['busiest_worker_share']:.0%} of the CPU, load {run['loadavg']}")
        return {"mode": mode, "runs": runs}


def summarize(mode: Mode, mix: str, runs: list[dict]) -> dict:
    """Medians over the rounds of one mode and mix; ratios are medians of the per-pair ratios."""
    floors = [r for r in runs if r["kind"] == "floor" and r["mix"] == mix]
    hits = [r for r in runs if r["kind"] == "hit" and r["mix"] == mix]
    ratios = [h["rps"] / f["rps"] for f, h in zip(floors, hits) if f["rps"]]
    cpu_ratios = [f["service_cpu_us"] / h["service_cpu_us"] for f, h in zip(floors, hits) if h["service_cpu_us"]]
    outcomes = collections.Counter()
    for h in hits:
        outcomes.update(h["outcomes"])
    return {
        "mode": mode, "mix": mix, "hits": hits,
        "floor_rps": median([f["rps"] for f in floors]), "hit_rps": median([h["rps"] for h in hits]),
        "floor_p99": median([f["latency_us"]["p99"] / 1000 for f in floors]),
        "hit_p50": median([h["latency_us"]["p50"] / 1000 for h in hits]),
        "hit_p99": median([h["latency_us"]["p99"] / 1000 for h in hits]),
        "ratio": median(ratios), "ratio_min": min(ratios, default=None), "ratio_max": max(ratios, default=None),
        "cpu_ratio": median(cpu_ratios), "cpu_ratio_min": min(cpu_ratios, default=None),
        "cpu_ratio_max": max(cpu_ratios, default=None),
        "service_cpu_floor": median([f["service_cpu_us"] for f in floors]),
        "service_cpu_hit": median([h["service_cpu_us"] for h in hits]),
        "redis_cpu_hit": median([h["redis_cpu_us"] for h in hits]),
        "wrk_cpu_hit": median([h["wrk_cpu_us"] for h in hits]),
        "errors": sum(r["errors_total"] for r in floors + hits),
        "busiest_worker": max((r.get("busiest_worker_share", 0) for r in floors + hits), default=0),
        "not_counted": {k: int(v) for k, v in outcomes.items() if k not in COUNTED and v},
        "loadavg": [r["loadavg"] for r in floors + hits],
    }


def _range(s: dict, key: str) -> str:
    if s[key] is None:
        return "–"
    return f"**{s[key]:.2f}** ({s[key + '_min']:.2f}–{s[key + '_max']:.2f})"


def hit_table(summaries: list[dict]) -> str:
    rows = []
    for s in summaries:
        if "error" in s:
            rows.append([s["mode"].name, "failed: " + s["error"]] + [""] * 11)
            continue
        rows.append([
            s["mode"].name + (" (image default)" if s["mode"] == IMAGE_DEFAULT else ""), MIXES[s["mix"]][0],
            fmt(s["floor_rps"]), fmt(s["hit_rps"]), _range(s, "ratio"),
            f"{fmt(s['service_cpu_floor'])} / {fmt(s['service_cpu_hit'])}", _range(s, "cpu_ratio"),
            fmt(s["redis_cpu_hit"]), fmt(s["wrk_cpu_hit"]), f"{s['floor_p99']:.1f} / {s['hit_p50']:.1f} / {s['hit_p99']:.1f}",
            ", ".join(f"{k} {v:,}" for k, v in s["not_counted"].items()) or "none", f"{s['errors']:,}",
            f"{s['busiest_worker']:.0%}",
        ])
    return table(["mode", "User-Agents", "floor req/s", "hit req/s", "hit/floor req/s (min–max)",
                  "gunicorn CPU µs/req floor / hit", "floor/hit CPU (min–max)", "Redis CPU µs/hit",
                  "wrk CPU µs/hit", "p99 floor / p50, p99 hit ms", "not counted", "wrk errors",
                  "busiest worker's CPU share (max)"], rows)


def run(bench: Bench, modes: list[Mode]) -> list[Section]:
    """Run the section over the modes and the mixes of --mixes; answer its tables."""
    args = bench.args
    mixes = [m for m in args.mixes.split(",") if m in MIXES]
    summaries = []
    for mode in modes:
        result = bench_mode(bench, mode, mixes)
        bench.raw.setdefault("hit", []).append({**result, "mode": mode.key})
        if "error" in result:
            summaries.append({"mode": mode, "error": result["error"]})
            continue
        summaries += [summarize(mode, mix, result["runs"]) for mix in mixes]
    intro = (f"wrk -t{args.wrk_threads} -c{args.connections}, {args.duration:g} s per run, {args.rounds} rounds per "
             "mode, each round a floor run then a hit run of every User-Agent mix, with the very same requests "
             "(medians; each ratio is the median of the per-pair ratios, range in brackets). Mixes: "
             f"{args.agents:,} pooled browser agents (warmed up: every worker has seen each), a new agent on "
             "every request (`post_hit_fresh.lua`: a pooled agent plus a unique in-app token, so also a new "
             "visitor), and a new 1,024-character agent on every request (over the 512-character cap: answered "
             "`user_agent_too_long`). 4 sites, one client IP. CPU columns: µs of CPU per request from /proc "
             "(gunicorn master + workers), INFO cpu (Redis) and getrusage (wrk); all share the same 2 cores, "
             "which makes the CPU figures steadier than req/s here. floor/hit CPU is the floor's CPU per "
             "request over the hit's (1.00: a hit costs the service no more than the floor). The busiest "
             "worker's share of the workers' CPU (max over the mode's runs; 50 % is even on 2 workers) shows "
             "runs whose connections landed on one worker.")
    return [Section("POST /api/v1/hit vs the framework floor (POST /bench/floor)", intro, hit_table(summaries)),
            round_trips.section([s for s in summaries if s.get("mix") != "long"])]
