#!/usr/bin/env python
"""Benchmark visitor-analytics on this machine and write bench/RESULTS.md.

    .venv/bin/python bench/run.py [--quick] [--duration S] [--only hit,counters,micro,memory,profile]

Starts a private redis-server (AOF off) and the service under gunicorn with the image's
command, drives it with wrk over loopback, reads Redis's INFO, and prints one markdown table
per section. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime as dt
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from service.redis_process import RedisProcess, free_port  # noqa: E402

SITES = ("bench-a", "bench-b", "bench-c", "bench-d")
ADMIN_TOKEN = "bench-" + secrets.token_hex(8)
GUNICORN = ["-m", "gunicorn", "-c", "python:service.gunicorn_config", "service:create_app()"]
"""Exactly the image's command (run with this interpreter: the project's .venv)."""

SERVICE_SETTINGS = (
    "REDIS_URL", "ADMIN_TOKEN", "ONLINE_WINDOW_SECONDS", "VISIT_TIMEOUT_SECONDS", "DEFAULT_TIMEZONE",
    "WEEK_START", "TRUSTED_PROXIES", "COUNTERS_CACHE_SECONDS", "SITE_CACHE_SECONDS",
    "VISITOR_HITS_PER_MINUTE", "IP_HITS_PER_MINUTE", "REDIS_TIMEOUT_SECONDS", "FLUSH_INTERVAL_MS", "MAX_BUFFERED_HITS",
    "JOURNAL_DIR", "ACCESS_LOG", "LOG_LEVEL", "BIND", "PORT", "WEB_CONCURRENCY", "GUNICORN_WORKER_CLASS",
    "GUNICORN_THREADS", "PROMETHEUS_MULTIPROC_DIR", "DATA_DIR", "GUNICORN_ACCESS_LOG", "VA_BENCH_FLOOR",
)
"""Inherited variables dropped from the service's environment, so every run is configured here."""

BENCH_ENV = {
    "VA_BENCH_FLOOR": "1",                   # registers POST /bench/floor
    "VISITOR_HITS_PER_MINUTE": "1000000",    # 2,000 UAs on one client IP: the cap would drop most hits
    "IP_HITS_PER_MINUTE": "0",               # all load comes from 127.0.0.1: no per-address limit
    "COUNTERS_CACHE_SECONDS": "5",
    "LOG_LEVEL": "WARNING",
}


# --- small helpers ---------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def command_output(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10)
        return (done.stdout or done.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def http(method: str, url: str, body: dict | None = None, token: str | None = None,
         timeout: float = 5.0) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


TICK = os.sysconf("SC_CLK_TCK")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


# --- machine -----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"

    def version(package: str) -> str:
        from importlib import metadata
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": command_output(["nproc"]),
        "CPU": cpu,
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "redis-server": command_output(["redis-server", "--version"]).split(" sha=")[0],
        "redis-py / hiredis": f"{version('redis')} / {version('hiredis')}",
        "gunicorn / flask / werkzeug": f"{version('gunicorn')} / {version('flask')} / {version('werkzeug')}",
        "gevent": version("gevent"),
        "wrk": command_output(["wrk", "--version"]).splitlines()[0].split(" Copyright")[0] if shutil.which("wrk") else "?",
        "load average at start": loadavg(),
    }


# --- redis ---------------------------------------------------------------------------------


class Redis:
    """The benchmark's private redis-server and a client for its INFO."""

    def __init__(self, directory: Path):
        # AOF off: the benchmark measures the service, not the disk; production keeps AOF on.
        self.process = RedisProcess(directory, appendonly=False)
        self.client: redis.Redis | None = None
        self.own_commands: collections.Counter = collections.Counter()

    def start(self) -> Redis:
        self.process.start()
        self.client = redis.Redis.from_url(self.process.url, socket_timeout=30)
        return self

    @property
    def url(self) -> str:
        return self.process.url

    def stop(self) -> None:
        self.process.stop()

    def commandstats(self) -> dict[str, int]:
        """Calls by command name, and under 'usec:<name>' the µs Redis spent in them."""
        stats = self.client.info("commandstats")
        out = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
        out.update({"usec:" + name.removeprefix("cmdstat_"): int(v["usec"]) for name, v in stats.items()})
        return out

    def cpu_seconds(self) -> float:
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def pageviews(self, sites=SITES) -> int:
        """Counted hits so far: the sum of the sites' all-time pageviews."""
        pipe = self.client.pipeline(transaction=False)
        for site in sites:
            pipe.hmget(f"va:{{{site}}}:tot", "pageviews")
        self.own_commands["hmget"] += len(sites)
        return sum(int(row[0] or 0) for row in pipe.execute())


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


# --- the service -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Mode:
    worker_class: str
    workers: int
    threads: int
    flush_ms: int

    @property
    def name(self) -> str:
        shape = f"{self.workers}×{self.threads}t" if self.worker_class == "gthread" else f"{self.workers}"
        return f"{self.worker_class} {shape}, flush {self.flush_ms} ms"

    @property
    def key(self) -> str:
        return f"{self.worker_class}-{self.workers}x{self.threads}-f{self.flush_ms}"


IMAGE_DEFAULT = Mode("gthread", 2, 4, 20)
MODES = [
    Mode("gthread", 2, 4, 0),
    IMAGE_DEFAULT,
    Mode("gthread", 4, 4, 20),
    Mode("sync", 2, 1, 0),
    Mode("sync", 2, 1, 20),
    Mode("sync", 4, 1, 20),
    Mode("gevent", 2, 1, 0),
    Mode("gevent", 2, 1, 20),
    Mode("gevent", 4, 1, 20),
]


class Service:
    """The app under gunicorn, started with the image's command and the benchmark's environment."""

    def __init__(self, mode: Mode, redis_url: str, workdir: Path, extra_env: dict[str, str] | None = None):
        self.mode = mode
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir / f"{mode.key}-{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in SERVICE_SETTINGS}
        env.update(BENCH_ENV)
        env.update({
            "BIND": f"127.0.0.1:{self.port}",
            "REDIS_URL": redis_url,
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(self.workdir / "metrics"),
            "JOURNAL_DIR": str(self.workdir / "journal"),
            "WEB_CONCURRENCY": str(mode.workers),
            "GUNICORN_WORKER_CLASS": mode.worker_class,
            "GUNICORN_THREADS": str(mode.threads),
            "FLUSH_INTERVAL_MS": str(mode.flush_ms),
        })
        env.update(extra_env or {})
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / "gunicorn.log"

    def start(self, timeout_seconds: float = 30.0) -> Service:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([sys.executable, *GUNICORN], cwd=ROOT, env=self.env,
                                        stdin=subprocess.DEVNULL, stdout=self.log_path.open("wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.mode.name}): {self.log_tail()}")
            try:
                if http("GET", self.base + "/healthz", timeout=1)[0] == 200 and \
                        len(self.workers()) >= self.mode.workers:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer ({self.mode.name}): {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def workers(self) -> list[int]:
        return children_of(self.process.pid) if self.process else []

    def cpu_seconds(self) -> float:
        """CPU used so far by the master and its workers."""
        pids = [self.process.pid, *self.workers()]
        return sum(cpu_ticks(pid) for pid in pids) / TICK

    def stop(self) -> None:
        """SIGTERM the master (by PID): workers flush their buffers and exit."""
        if not self.process or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def register_sites(self, sites=SITES) -> None:
        for site in sites:
            status, body = http("PUT", f"{self.base}/api/v1/sites/{site}",
                                {"domains": [f"{site}.bench.example.vn"], "timezone": "Asia/Ho_Chi_Minh"},
                                token=ADMIN_TOKEN)
            if status not in (200, 201):
                raise RuntimeError(f"PUT site {site}: {status} {body[:200]!r}")

    def metrics(self) -> dict[str, float]:
        """The service's Prometheus numbers (summed over workers), keyed by 'name{labels}'."""
        status, body = http("GET", self.base + "/metrics", timeout=10)
        values: dict[str, float] = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values


# --- wrk -----------------------------------------------------------------------------------


def run_wrk(url: str, script: str, seconds: float, connections: int, threads: int,
            sites=SITES, agents: int = 2000, background: bool = False, warm: bool = False):
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
            "--latency", "-s", str(BENCH / script), url]
    env = {**os.environ, "BENCH_DIR": str(BENCH), "BENCH_SITES": ",".join(sites), "BENCH_AGENTS": str(agents),
           "BENCH_WARM": "1" if warm else "0"}
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if background:
        return process
    return finish_wrk(process)


def finish_wrk(process: subprocess.Popen) -> dict:
    output, _ = process.communicate(timeout=600)
    for line in output.splitlines():
        if line.startswith("BENCHJSON "):
            result = json.loads(line[len("BENCHJSON "):])
            result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
            result["errors_total"] = sum(result["errors"].values())
            return result
    raise RuntimeError(f"wrk gave no summary: {output[-1500:]}")


def warm_up(service: Service, store: Redis, args, cap_seconds: float = 60.0) -> None:
    """Show every User-Agent to every worker a few times (crawler verdicts are cached per worker:
    a new User-Agent costs ~0.5 ms of regex), then briefly load the floor route."""
    target = store.pageviews() + args.agents * service.mode.workers * args.warm_passes
    load = run_wrk(service.base + "/api/v1/hit", "post_hit.lua", cap_seconds, args.connections, args.wrk_threads,
                   agents=args.agents, background=True, warm=True)
    deadline = time.monotonic() + cap_seconds
    while time.monotonic() < deadline and load.poll() is None and store.pageviews() < target:
        time.sleep(0.2)
    if load.poll() is None:
        load.send_signal(signal.SIGINT)   # wrk prints its summary and exits
    finish_wrk(load)
    run_wrk(service.base + "/bench/floor", "post_hit.lua", 1, args.connections, args.wrk_threads, agents=args.agents)
    wait_drained(service, store, quiet_polls=3)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- section 1: hit vs floor -------------------------------------------------------------------


NOT_COUNTED = ("bot", "no_user_agent", "prefetch", "foreign_domain", "unknown_site", "invalid",
               "rate_limited", "ip_limited", "dropped", "duplicate")


def outcome_counts(metrics: dict[str, float]) -> dict[str, float]:
    out = {}
    for name, value in metrics.items():
        match = re.fullmatch(r'va_hits_total\{outcome="([a-z_]+)"\}', name)
        if match:
            out[match.group(1)] = value
    return out


def wait_drained(service: Service, store: Redis, quiet_polls: int, cap_seconds: float = 10.0) -> None:
    """Wait until buffered hits are written: the totals stop moving and no worker buffers any."""
    deadline = time.monotonic() + cap_seconds
    last, still = store.pageviews(), 0
    while time.monotonic() < deadline and still < quiet_polls:
        time.sleep(0.05)
        now = store.pageviews()
        still = still + 1 if now == last else 0
        last = now
    while time.monotonic() < deadline and service.metrics().get("va_buffer_hits", 0) > 0:
        time.sleep(0.05)


def measure(service: Service, store: Redis, kind: str, args) -> dict:
    """One wrk run of `kind` ('floor' or 'hit'), with Redis and CPU deltas around it."""
    path = "/api/v1/hit" if kind == "hit" else "/bench/floor"
    metrics0 = service.metrics()
    commands0, own0 = store.commandstats(), collections.Counter(store.own_commands)
    pageviews0 = store.pageviews()
    cpu0, redis_cpu0, wrk_cpu0 = service.cpu_seconds(), store.cpu_seconds(), children_cpu()
    result = run_wrk(service.base + path, "post_hit.lua", args.duration, args.connections, args.wrk_threads,
                     agents=args.agents)
    if kind == "hit":
        wait_drained(service, store, quiet_polls=3 if service.mode.flush_ms else 1)
    cpu1, redis_cpu1, wrk_cpu1 = service.cpu_seconds(), store.cpu_seconds(), children_cpu()
    pageviews1 = store.pageviews()
    commands1 = store.commandstats()
    metrics1 = service.metrics()
    commands = delta(commands1, commands0)
    for name, calls in (store.own_commands - own0).items():   # the bench's own reads
        commands[name] = commands.get(name, 0) - calls
    commands.pop("info", None)
    commands.pop("usec:info", None)
    usec = {k.removeprefix("usec:"): v for k, v in commands.items() if k.startswith("usec:") and v}
    commands = {k: v for k, v in commands.items() if v and not k.startswith("usec:")}
    outcomes = delta(outcome_counts(metrics1), outcome_counts(metrics0))
    n = max(result["requests"], 1)
    result.update({
        "kind": kind,
        "counted": pageviews1 - pageviews0,
        "commands": commands,
        "redis_usec": usec,
        "batches": metrics1.get("va_flush_duration_seconds_count", 0) - metrics0.get("va_flush_duration_seconds_count", 0),
        "outcomes": outcomes,
        "service_cpu_us": (cpu1 - cpu0) / n * 1e6,
        "redis_cpu_us": (redis_cpu1 - redis_cpu0) / n * 1e6,
        "wrk_cpu_us": (wrk_cpu1 - wrk_cpu0) / n * 1e6,
        "loadavg": loadavg(),
    })
    return result


def bench_mode(mode: Mode, store: Redis, workdir: Path, args) -> dict:
    log(f"mode {mode.name}: starting gunicorn (load {loadavg()})")
    service = Service(mode, store.url, workdir)
    try:
        service.start()
    except RuntimeError as exc:
        log(f"mode {mode.name} failed to start: {exc}")
        return {"mode": mode, "error": str(exc).splitlines()[0][:200], "log": service.log_tail()}
    try:
        service.register_sites()
        # Warm up: connection pools, the day's salt, site caches, crawlerdetect's verdict cache.
        warm_up(service, store, args)
        runs = []
        for round_number in range(args.rounds):
            for kind in ("floor", "hit"):
                run = measure(service, store, kind, args)
                runs.append(run)
                log(f"  {mode.name} round {round_number + 1} {kind}: {run['rps']:,.0f} req/s, "
                    f"p50 {run['latency_us']['p50'] / 1000:.2f} ms, p99 {run['latency_us']['p99'] / 1000:.2f} ms, "
                    f"errors {run['errors_total']} {({k: v for k, v in run['errors'].items() if v}) or ''}, "
                    f"counted {run['counted']}, load {run['loadavg']}")
        return {"mode": mode, "runs": runs, "worker_pids": service.workers()}
    finally:
        service.stop()


def summarize_mode(result: dict) -> dict:
    mode: Mode = result["mode"]
    if "error" in result:
        return {"mode": mode, "error": result["error"]}
    floors = [r for r in result["runs"] if r["kind"] == "floor"]
    hits = [r for r in result["runs"] if r["kind"] == "hit"]
    ratios = [h["rps"] / f["rps"] for f, h in zip(floors, hits) if f["rps"]]
    counted = sum(h["counted"] for h in hits)
    commands = collections.Counter()
    for h in hits:
        commands.update(h["commands"])
    total_commands = sum(commands.values())
    usec = collections.Counter()
    for h in hits:
        usec.update(h.get("redis_usec", {}))
    evalsha = commands.get("evalsha", 0) + commands.get("eval", 0)
    batches = sum(h["batches"] for h in hits)
    # Round trips: one per EVALSHA when each hit is written before answering; one per batch
    # (a pipeline of one EVALSHA per site) when hits are batched; plus site-settings refreshes.
    trips = (batches if mode.flush_ms else evalsha) + commands.get("hgetall", 0)
    outcomes = collections.Counter()
    for h in hits:
        outcomes.update(h["outcomes"])
    floor_outcomes = collections.Counter()
    for f in floors:
        floor_outcomes.update({k: v for k, v in f["commands"].items()})
    return {
        "mode": mode,
        "floor_rps": median([f["rps"] for f in floors]),
        "hit_rps": median([h["rps"] for h in hits]),
        "floor_p50": median([f["latency_us"]["p50"] / 1000 for f in floors]),
        "floor_p99": median([f["latency_us"]["p99"] / 1000 for f in floors]),
        "hit_p50": median([h["latency_us"]["p50"] / 1000 for h in hits]),
        "hit_p99": median([h["latency_us"]["p99"] / 1000 for h in hits]),
        "ratio": median(ratios),
        "ratio_min": min(ratios) if ratios else None,
        "ratio_max": max(ratios) if ratios else None,
        "errors": sum(r["errors_total"] for r in result["runs"]),
        "hit_requests": sum(h["requests"] for h in hits),
        "counted": counted,
        "not_counted": {k: int(v) for k, v in outcomes.items() if k in NOT_COUNTED and v},
        "commands_per_hit": total_commands / counted if counted else None,
        "evalsha_per_hit": evalsha / counted if counted else None,
        "batches_per_hit": batches / counted if counted else None,
        "hits_per_batch": counted / batches if batches else None,
        "trips_per_hit": trips / counted if counted else None,
        "commands": dict(commands.most_common()),
        "usec_per_hit": {k: v / counted for k, v in usec.most_common()} if counted else {},
        "floor_redis_commands": sum(floor_outcomes.values()),
        "service_cpu_floor": median([f["service_cpu_us"] for f in floors]),
        "service_cpu_hit": median([h["service_cpu_us"] for h in hits]),
        "redis_cpu_hit": median([h["redis_cpu_us"] for h in hits]),
        "wrk_cpu_hit": median([h["wrk_cpu_us"] for h in hits]),
        "wrk_cpu_floor": median([f["wrk_cpu_us"] for f in floors]),
    }


def hit_tables(summaries: list[dict]) -> tuple[str, str]:
    rows, redis_rows = [], []
    for s in summaries:
        if "error" in s:
            rows.append([s["mode"].name, "failed: " + s["error"]] + [""] * 8)
            continue
        ratio = f"**{s['ratio']:.2f}** ({s['ratio_min']:.2f}–{s['ratio_max']:.2f})"
        rows.append([
            s["mode"].name + (" (image default)" if s["mode"] == IMAGE_DEFAULT else ""),
            fmt(s["floor_rps"]), f"{s['floor_p50']:.2f} / {s['floor_p99']:.2f}",
            fmt(s["hit_rps"]), f"{s['hit_p50']:.2f} / {s['hit_p99']:.2f}", ratio,
            f"{fmt(s['service_cpu_floor'])} / {fmt(s['service_cpu_hit'])}", fmt(s["redis_cpu_hit"]),
            f"{fmt(s['wrk_cpu_floor'])} / {fmt(s['wrk_cpu_hit'])}", f"{s['errors']:,}",
        ])
        not_counted = ", ".join(f"{k} {v}" for k, v in s["not_counted"].items()) or "none"
        top = ", ".join(f"{k} {v / s['counted']:.2f}" for k, v in list(s["commands"].items())[:6]) if s["counted"] else ""
        script = sum(v for k, v in s["usec_per_hit"].items() if k in ("evalsha", "eval"))
        inner = ", ".join(f"{k} {v:.1f}" for k, v in s["usec_per_hit"].items() if k not in ("evalsha", "eval"))
        inner = ", ".join(inner.split(", ")[:4])
        redis_rows.append([
            s["mode"].name, f"{s['hit_requests']:,}", f"{s['counted']:,}", not_counted,
            fmt(s["commands_per_hit"], 1), fmt(s["evalsha_per_hit"], 3), fmt(s["batches_per_hit"], 3),
            fmt(s["hits_per_batch"], 0), f"**{fmt(s['trips_per_hit'], 3)}**", top,
            f"{script:.1f} ({inner})",
        ])
    hit_table = table(["mode", "floor req/s", "floor p50 / p99 ms", "hit req/s", "hit p50 / p99 ms",
                       "hit/floor (min–max)", "gunicorn CPU µs/req floor / hit", "Redis CPU µs/hit",
                       "wrk CPU µs/req floor / hit", "wrk errors"], rows)
    redis_table = table(["mode", "hit requests", "hits counted", "not counted", "Redis commands/hit",
                         "EVALSHA/hit", "batches/hit", "hits/batch", "round trips/hit",
                         "commands per hit (top 6, incl. inside Lua)",
                         "Redis µs/hit in the script (top commands inside it)"], redis_rows)
    return hit_table, redis_table


# --- section 2: counters under pollers ----------------------------------------------------------


def bench_counters(store: Redis, workdir: Path, args) -> list[dict]:
    mode = IMAGE_DEFAULT
    log(f"counters: starting gunicorn {mode.name} (load {loadavg()})")
    service = Service(mode, store.url, workdir).start()
    rows = []
    try:
        service.register_sites()
        sites = SITES[:3]
        run_wrk(service.base + "/", "get_counters.lua", 1, 10, 1, sites=sites)   # warm up
        for connections in (10, 100, 1000):
            commands0, own0, t0 = store.commandstats(), collections.Counter(store.own_commands), time.monotonic()
            result = run_wrk(service.base + "/", "get_counters.lua", args.counters_duration, connections,
                             2 if connections >= 100 else 1, sites=sites)
            elapsed = time.monotonic() - t0
            commands = delta(store.commandstats(), commands0)
            for name, calls in (store.own_commands - own0).items():
                commands[name] = commands.get(name, 0) - calls
            commands.pop("info", None)
            commands = {k: v for k, v in commands.items() if v and not k.startswith("usec:")}
            seconds = result["duration_us"] / 1e6
            rows.append({
                "connections": connections, "rps": result["rps"], "p50": result["latency_us"]["p50"] / 1000,
                "p99": result["latency_us"]["p99"] / 1000, "errors": result["errors_total"],
                "requests": result["requests"], "seconds": seconds, "window_seconds": elapsed,
                "zcount_per_s": commands.get("zcount", 0) / elapsed,
                "commands_per_s": sum(commands.values()) / elapsed,
                "commands": commands, "workers": mode.workers, "sites": len(sites),
            })
            log(f"  counters c={connections}: {result['rps']:,.0f} req/s, zcount {commands.get('zcount', 0)} "
                f"in {elapsed:.1f}s, errors {result['errors_total']}")
    finally:
        service.stop()
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


# --- section 3: memory per site ------------------------------------------------------------------


KEY_CLASSES = {
    "cfg": "settings (forever)", "tot": "all-time totals (forever)", "base": "baseline (forever)",
    "h": "history month hashes (forever)", "u": "day visitors HLL (day + 2 days)",
    "on": "online zset (5 min)", "s": "visit sessions and per-visitor minute caps (30 min)",
    "ip": "per-address minute caps (2 min)",
    "b": "batch markers (10 min)",
}
PERSISTENT = ("cfg", "tot", "base", "h")


def site_memory(client: redis.Redis, site: str) -> dict[str, list[int]]:
    """Keys and MEMORY USAGE bytes of one site, by key class."""
    pattern = f"va:\\{{{site}\\}}:*"
    by_class: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    batch = []

    def account(names):
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.memory_usage(name, samples=0)
        for name, size in zip(names, pipe.execute()):
            kind = name.decode().split(":", 3)[2]
            by_class[kind][0] += 1
            by_class[kind][1] += size or 0

    for name in client.scan_iter(match=pattern, count=2000):
        batch.append(name)
        if len(batch) >= 2000:
            account(batch)
            batch = []
    if batch:
        account(batch)
    return dict(by_class)


def bench_memory(store: Redis, args) -> list[dict]:
    from zoneinfo import ZoneInfo

    from service.sites import Site
    from service.hits import Hit
    from service.store import CounterStore, Limits

    client = store.client
    client.flushall()
    wanted = {"online_window_seconds": 300, "visit_timeout_seconds": 1800, "visitor_hits_per_minute": 1_000_000,
              "address_hits_per_minute": 0}
    limits = Limits(**{f.name: wanted[f.name] for f in dataclasses.fields(Limits) if f.name in wanted})
    counter_store = CounterStore.from_url(store.url, limits, timeout_seconds=60)
    zone = "Asia/Ho_Chi_Minh"
    rng = __import__("random").Random(7)
    results = []

    def write(site: str, hits_iter, total: int) -> float:
        started, batch, written = time.monotonic(), [], 0
        for hit in hits_iter:
            batch.append(hit)
            if len(batch) == 500:
                counter_store.record_hits(batch, secrets.token_hex(8))
                written += len(batch)
                batch = []
                if written % 100_000 == 0:
                    log(f"  memory {site}: {written:,}/{total:,} hits")
        if batch:
            counter_store.record_hits(batch, secrets.token_hex(8))
        return time.monotonic() - started

    def scenario(site: str, label: str, hits_iter, total: int, visitors: int, days: int) -> dict:
        counter_store.put_site(Site(site, (f"{site}.example.vn",), zone))
        used0 = int(client.info("memory")["used_memory"])
        seconds = write(site, hits_iter, total)
        used1 = int(client.info("memory")["used_memory"])
        by_class = site_memory(client, site)
        totals = client.hgetall(f"va:{{{site}}}:tot")
        return {"site": site, "label": label, "hits": total, "visitors": visitors, "days": days,
                "seconds": seconds, "used_memory_delta": used1 - used0, "by_class": by_class,
                "totals": {k.decode(): int(v) for k, v in totals.items()}}

    # 1) One million hits into one site within the last hour, from many visitors.
    n, visitors = args.memory_hits, max(1, args.memory_hits // 4)
    pool = [secrets.token_hex(12) for _ in range(visitors)]
    now = dt.datetime.now(dt.timezone.utc)
    start = now - dt.timedelta(hours=1)

    def one_day():
        for i in range(n):
            yield Hit("mem-1m", rng.choice(pool), "pageview", start + dt.timedelta(seconds=3600 * i / n), zone)

    log(f"memory: {n:,} hits into one site ({visitors:,} visitors)")
    results.append(scenario("mem-1m", f"{n:,} hits in one hour", one_day(), n, visitors, 1))

    # 2) 400 simulated days: hits spread over 400 local days (noon ± 10 h), a fresh crowd each day.
    days, per_day = 400, args.memory_hits_per_day
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()

    def many_days():
        for back in range(days - 1, -1, -1):
            day = today - dt.timedelta(days=back)
            noon = dt.datetime.combine(day, dt.time(12), tzinfo=tz).astimezone(dt.timezone.utc)
            crowd = [secrets.token_hex(12) for _ in range(max(1, per_day // 4))]
            for i in range(per_day):
                at = noon + dt.timedelta(seconds=-36000 + 72000 * i / per_day)
                yield Hit("mem-400d", rng.choice(crowd), "pageview", min(at, now), zone)

    log(f"memory: {days} days × {per_day:,} hits into one site")
    results.append(scenario("mem-400d", f"{days} days × {per_day:,} hits", many_days(), days * per_day,
                            days * max(1, per_day // 4), days))
    counter_store.redis.close()
    return results


def memory_tables(results: list[dict]) -> str:
    summary, detail = [], []
    for r in results:
        total_bytes = sum(b for _, b in r["by_class"].values())
        keys = sum(k for k, _ in r["by_class"].values())
        persistent = sum(r["by_class"].get(c, [0, 0])[1] for c in PERSISTENT)
        persistent_keys = sum(r["by_class"].get(c, [0, 0])[0] for c in PERSISTENT)
        summary.append([r["label"], f"{r['hits']:,}", f"{r['seconds']:.0f} s ({r['hits'] / r['seconds']:,.0f} hits/s)",
                        f"{keys:,}", f"{total_bytes / 1024:,.1f} KiB", f"{r['used_memory_delta'] / 1024:,.1f} KiB",
                        f"{persistent_keys} keys, {persistent / 1024:,.1f} KiB",
                        ", ".join(f"{k} {v:,}" for k, v in r["totals"].items())])
        for kind, (count, size) in sorted(r["by_class"].items(), key=lambda kv: -kv[1][1]):
            detail.append([r["label"], KEY_CLASSES.get(kind, kind), f"{count:,}", f"{size / 1024:,.1f} KiB",
                           f"{size / count:,.0f}" if count else "–"])
    return (table(["scenario", "hits", "write time (direct, batches of 500)", "site keys",
                   "Σ MEMORY USAGE", "INFO used_memory Δ", "of which forever (cfg, tot, base, h)",
                   "site totals"], summary)
            + "\n\n" + table(["scenario", "key class (lifetime)", "keys", "bytes", "bytes/key"], detail))


# --- section 4: profiles --------------------------------------------------------------------------


PROFILE_BUCKETS = [
    # (label, regex on one py-spy frame "Class.function (package/file.py:line)"); inclusive: a
    # sample counts once in every bucket one of its frames matches.
    ("whole request inside Flask (Flask.wsgi_app)", r"^Flask\.wsgi_app "),
    ("gunicorn outside Flask (accept, HTTP parse, write, close)", None),
    ("hit flusher thread (batched writes)", r"^BufferedRecorder\._run "),
    ("logs.py hooks (timer, request id, duration histogram)", r"\(service/logs\.py"),
    ("prometheus_client (any)", r"\(prometheus_client/"),
    ("secrets.token_hex (request ids, batch ids)", r"^token_hex "),
    ("HitPipeline.count (the hit route's own work)", r"^HitPipeline\.count "),
    ("Beacon.from_post (read body, JSON, page host)", r"^Beacon\.from_post "),
    ("json (body decode)", r"\(json/"),
    ("find_site (site cache)", r"^find_site "),
    ("drop_reason (filters)", r"^drop_reason "),
    ("crawlerdetect (regex on new User-Agents)", r"\(crawlerdetect/"),
    ("CounterStore.salt", r"^CounterStore\.salt "),
    ("visitor_id (BLAKE2b)", r"^visitor_id "),
    ("BufferedRecorder.record (write or enqueue)", r"^BufferedRecorder\.record "),
    ("CounterStore.record_hits (keys + EVALSHA)", r"^CounterStore\.record_hits "),
    ("keys.py / zoneinfo (key names, day math)", r"\(service/keys\.py|\(zoneinfo/"),
    ("redis-py client (any)", r"\(redis/"),
    ("werkzeug (any)", r"\(werkzeug/"),
    ("gunicorn access-log atoms (glogging)", r"\(gunicorn/glogging\.py"),
]
IDLE_FRAMES = re.compile(r"^(Arbiter\.(wait_for_signals|sleep)|Condition\.wait|Event\.wait) ")
"""Leaf frames of threads that wait (the master's loop, the flusher's sleep): not request work."""


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


def profile_breakdown(stacks, rate: int, requests: float) -> dict:
    total = sum(c for _, c in stacks)
    out = {"samples": total, "cpu_us_per_request": total / rate / requests * 1e6 if requests else None,
           "buckets": {}, "self": collections.Counter()}
    compiled = [(label, re.compile(rx) if rx else None) for label, rx in PROFILE_BUCKETS]
    flask, flusher = compiled[0][1], compiled[2][1]
    for frames, count in stacks:
        outside = not any(flask.search(f) or flusher.search(f) for f in frames)
        for label, rx in compiled:
            hit = outside if rx is None else any(rx.search(f) for f in frames)
            if hit:
                out["buckets"][label] = out["buckets"].get(label, 0) + count
        if frames:
            out["self"][re.sub(r":\d+\)$", ")", frames[-1])] += count
    return out


def bench_profile(store: Redis, workdir: Path, args) -> list[dict]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        log("profile: py-spy not found (pip install py-spy); skipped")
        return []
    out_dir = BENCH / "profile"
    out_dir.mkdir(exist_ok=True)
    results = []
    for mode in args.profile_modes:
        log(f"profile: {mode.name}")
        service = Service(mode, store.url, workdir).start()
        try:
            service.register_sites()
            warm_up(service, store, args)
            for kind, path in (("floor", "/bench/floor"), ("hit", "/api/v1/hit")):
                raw = out_dir / f"{mode.key}-{kind}.txt"
                load = run_wrk(service.base + path, "post_hit.lua", args.profile_seconds + 2, args.connections,
                               args.wrk_threads, agents=args.agents, background=True)
                time.sleep(1)
                subprocess.run([spy, "record", "--pid", str(service.process.pid), "--subprocesses",
                                "--gil", "-d", str(args.profile_seconds), "-r", str(args.profile_rate),
                                "-f", "raw", "-o", str(raw)], capture_output=True, timeout=120)
                result = finish_wrk(load)
                requests = result["rps"] * args.profile_seconds
                breakdown = profile_breakdown(parse_raw_profile(raw), args.profile_rate, requests) if raw.exists() else {}
                results.append({"mode": mode, "kind": kind, "rps": result["rps"], "breakdown": breakdown,
                                "raw": str(raw.relative_to(ROOT))})
                log(f"  {kind}: {result['rps']:,.0f} req/s under py-spy, {breakdown.get('samples', 0)} samples")
            if mode == args.profile_modes[0]:
                svg = BENCH / "profile-hit.svg"
                load = run_wrk(service.base + "/api/v1/hit", "post_hit.lua", args.profile_seconds + 2,
                               args.connections, args.wrk_threads, agents=args.agents, background=True)
                time.sleep(1)
                subprocess.run([spy, "record", "--pid", str(service.process.pid), "--subprocesses",
                                "--gil", "-d", str(args.profile_seconds), "-r", str(args.profile_rate),
                                "-o", str(svg)], capture_output=True, timeout=120)
                finish_wrk(load)
        finally:
            service.stop()
    return results


def profile_tables(results: list[dict]) -> str:
    parts = []
    modes = []
    for r in results:
        if r["mode"] not in modes:
            modes.append(r["mode"])
    for mode in modes:
        pair = {r["kind"]: r for r in results if r["mode"] == mode}
        floor, hit = pair.get("floor", {}).get("breakdown"), pair.get("hit", {}).get("breakdown")
        if not floor or not hit:
            continue

        def per_request(b, label):
            value = b["buckets"].get(label, 0)
            return value / b["samples"] * b["cpu_us_per_request"] if b["samples"] else 0

        rows = [["**all GIL-held samples**", fmt(floor["cpu_us_per_request"]), fmt(hit["cpu_us_per_request"]), "100 %"]]
        for label, _ in PROFILE_BUCKETS:
            f_us, h_us = per_request(floor, label), per_request(hit, label)
            if f_us < 1 and h_us < 1:
                continue
            rows.append([label, fmt(f_us), fmt(h_us), f"{hit['buckets'].get(label, 0) / hit['samples'] * 100:.0f} %"])
        parts.append(f"**{mode.name}** (floor {pair['floor']['rps']:,.0f} req/s, hit {pair['hit']['rps']:,.0f} req/s "
                     f"under py-spy; raw stacks: `{pair['hit']['raw']}`)\n\n"
                     + table(["where (inclusive; buckets overlap)", "floor Python µs/req", "hit Python µs/req",
                              "share of hit samples"], rows))
        top = [[frame.replace("|", "\\|"), f"{count / hit['samples'] * 100:.1f} %",
                fmt(count / hit["samples"] * hit["cpu_us_per_request"])]
               for frame, count in hit["self"].most_common(12)]
        parts.append(f"Top self frames, hit route, {mode.name}:\n\n"
                     + table(["frame (leaf)", "share", "µs/req"], top))
    return "\n\n".join(parts)


# --- section 5: per-step costs in-process ---------------------------------------------------------


def bench_micro(store: Redis, workdir: Path) -> dict[str, float]:
    folder = workdir / "micro"
    (folder / "metrics").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_SETTINGS}
    env.update({"PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"), "JOURNAL_DIR": str(folder / "journal")})
    log("micro: per-step costs in-process")
    done = subprocess.run([sys.executable, str(BENCH / "micro.py"), store.url], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    log(f"micro failed: {done.stderr[-800:]}")
    return {}


def micro_table(costs: dict[str, float]) -> str:
    return table(["step", "µs per call"], [[step, fmt(us, 1)] for step, us in costs.items()])


# --- main ------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs (3 s, 2 rounds, fewer hits): a smoke run")
    parser.add_argument("--duration", type=float, help="seconds of each wrk run of the hit/floor section")
    parser.add_argument("--rounds", type=int, help="interleaved floor/hit pairs per mode")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c of the hit/floor runs (default 32)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk -t of the hit/floor runs (default 1)")
    parser.add_argument("--agents", type=int, default=2000, help="distinct User-Agents (visitors) (default 2000)")
    parser.add_argument("--modes", help="comma-separated mode keys, e.g. gthread-2x4-f0,sync-2x1-f20")
    parser.add_argument("--only", default="hit,counters,memory,profile,micro", help="sections to run")
    parser.add_argument("--memory-hits", type=int, default=1_000_000, help="hits of the one-site memory scenario")
    parser.add_argument("--results", default=str(BENCH / "RESULTS.md"), help="markdown output path")
    args = parser.parse_args()
    args.duration = args.duration or (3 if args.quick else 10)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.counters_duration = max(args.duration, 6 if args.quick else 15)
    args.memory_hits_per_day = 250 if args.quick else 2500
    args.warm_passes = 4  # each worker must see each User-Agent: a new one costs ~0.4 ms of regex
    args.profile_seconds = 4 if args.quick else 8
    args.profile_rate = 100
    sections = set(args.only.split(","))
    modes = MODES
    if args.modes:
        wanted = args.modes.split(",")
        modes = [m for m in MODES if m.key in wanted] or [m for m in MODES if any(w in m.key for w in wanted)]
    args.profile_modes = [IMAGE_DEFAULT, Mode("sync", 2, 1, 20)]

    for tool in ("wrk", "redis-server"):
        if not shutil.which(tool):
            print(f"error: {tool} not found on PATH (apt-get install {tool})", file=sys.stderr)
            return 2

    about = machine()
    workdir = Path(tempfile.mkdtemp(prefix="va-bench-"))
    store = Redis(workdir / "redis").start()
    log(f"redis-server (AOF off) at {store.url}; work files in {workdir}")
    report = {"machine": about, "args": {k: v for k, v in vars(args).items() if k != "profile_modes"}}
    sections_md = []

    def guarded(name: str, fn) -> None:
        """Run one section; a failure is logged and noted in the results, the others still run."""
        if name not in sections:
            return
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - report and go on with the next section
            import traceback
            log(f"section {name} failed: {exc!r}\n{traceback.format_exc()}")
            sections_md.append((f"Section '{name}' failed", f"`{exc!r}`"[:2000], ""))

    def section_hit():
        summaries = []
        raw_runs = []
        for mode in modes:
            result = bench_mode(mode, store, workdir, args)
            raw_runs.append({**result, "mode": mode.key})
            summaries.append(summarize_mode(result))
        hit_table, redis_table = hit_tables(summaries)
        best = max((s for s in summaries if "error" not in s), key=lambda s: s["ratio"], default=None)
        sections_md.append((
            "POST /api/v1/hit vs the framework floor (POST /bench/floor)",
            f"wrk -t{args.wrk_threads} -c{args.connections}, {args.duration:g} s per run, {args.rounds} interleaved "
            f"floor/hit pairs per mode (medians; the ratio is the median of the per-pair ratios, range in "
            f"brackets). {args.agents:,} distinct User-Agents × {len(SITES)} sites, one client IP. Latency in ms. "
            "CPU columns: µs of CPU per request, from /proc (gunicorn master + workers), INFO cpu (Redis) "
            "and getrusage (wrk) — all three share the same 2 cores."
            + (f" Best ratio: **{best['mode'].name}** ({best['ratio']:.2f})." if best else ""),
            hit_table))
        sections_md.append((
            "Redis commands and round trips per counted hit",
            "From `INFO commandstats` deltas around each hit run (the benchmark's own reads subtracted); "
            "commands called inside the Lua script count as commands. Hits counted = growth of the sites' "
            "all-time pageviews (a few dozen more than wrk's completed requests: those in flight when wrk "
                "stops are counted too). Round trips: EVALSHA calls when each hit is written before answering "
            "(flush 0); flushed batches (`va_flush_duration_seconds_count`, one pipeline per batch) when "
            "batching; plus the site-settings HGETALLs (one per site per worker per SITE_CACHE_SECONDS). "
            "Redis µs: `usec` of EVALSHA (the whole script) per counted hit, and of the costliest "
            "commands run inside it.",
            redis_table))
        report["hit"] = {"summaries": [{**s, "mode": s["mode"].key} for s in summaries], "runs": raw_runs}

    def section_counters():
        rows = bench_counters(store, workdir, args)
        sections_md.append((
            "GET /api/v1/sites/<site>/counters under 10, 100, 1,000 pollers",
            f"{IMAGE_DEFAULT.name} (image default), COUNTERS_CACHE_SECONDS=5, 3 sites round-robin, no "
            f"If-None-Match, {args.counters_duration:g} s per run. Every counters read from Redis is one "
            "pipeline with one ZCOUNT, so ZCOUNT/s = Redis reads/s. It must not grow with the pollers: each "
            "worker refreshes each site at most once per cache lifetime, so a window of T s holds at most "
            "workers × sites × (⌊T/5⌋ + 1) reads (short windows make the per-second figure jumpy).",
            counters_table(rows)))
        report["counters"] = rows

    def section_micro():
        costs = bench_micro(store, workdir)
        if costs:
            sections_md.append((
                "Per-step costs of a hit, in-process",
                "`bench/micro.py`: each step timed alone in one Python process (best of 5 repeats), "
                "against the same private Redis; the last two rows run the whole Flask app through its "
                "test client, without gunicorn or HTTP. Timings include this machine's noise.",
                micro_table(costs)))
            report["micro"] = costs

    def section_memory():
        results = bench_memory(store, args)
        sections_md.append((
            "Redis memory per site",
            "Hits written straight through `CounterStore.record_hits` in batches of 500 (no HTTP), "
            "VISITOR_HITS_PER_MINUTE=1,000,000, no per-address limit. `MEMORY USAGE <key> SAMPLES 0` summed over "
            "`SCAN MATCH va:{site}:*`, and `INFO memory` used_memory before/after. Lifetimes are measured "
            "from the moment of writing, so the short-lived classes (sessions, batch "
            "markers, and in the 400-day scenario the day HLLs) are all still alive here; in steady state "
            "only the 'forever' classes accumulate, plus the last ~3 days' HLLs and the last 30 min's "
            "sessions.",
            memory_tables(results)))
        report["memory"] = results

    def section_profile():
        results = bench_profile(store, workdir, args)
        if results:
            sections_md.append((
                "Where the time goes: py-spy, hit vs floor",
                f"`py-spy record --gil --subprocesses -r {args.profile_rate}` on the gunicorn master "
                f"for {args.profile_seconds} s under the same wrk load, after the same warm-up. `--gil` keeps only "
                "samples of the thread holding the GIL: Python CPU. Kernel time (socket syscalls), waiting for "
                "Redis and C code that releases the GIL are not sampled (compare with the /proc CPU columns "
                "above). Python µs/req = worker samples / rate / requests served. Flame graph of the hit route "
                "(image default mode, same flags): `bench/profile-hit.svg`.",
                profile_tables(results)))
            report["profile"] = [{**r, "mode": r["mode"].key} for r in results]

    try:
        for name, fn in (("hit", section_hit), ("counters", section_counters), ("micro", section_micro),
                         ("memory", section_memory), ("profile", section_profile)):
            guarded(name, fn)
    finally:
        store.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    about["load average at end"] = loadavg()
    notes = [
        "Service started with the image's command, `python -m gunicorn -c python:service.gunicorn_config "
        "'service:create_app()'`, on 127.0.0.1, with `VA_BENCH_FLOOR=1` (registers `POST /bench/floor`: same "
        "body read, `204`, nothing else; it still runs the app's before/after-request hooks), a private "
        "redis-server with **AOF off** (production keeps it on), `LOG_LEVEL=WARNING`, `ACCESS_LOG=0`.",
        "**`VISITOR_HITS_PER_MINUTE=1000000` and `IP_HITS_PER_MINUTE=0`** (no per-address limit): the load "
        "comes from one IP (127.0.0.1) and a few thousand User-Agents, so the default caps (60 a visitor, "
        "3,000 an address and site) would turn most of it into `rate_limited` drops or `429`s, which cost "
        "less than a counted hit. With the per-address limit on, each hit runs one more INCR (+EXPIRE) in "
        "the script.",
        "wrk, Redis and gunicorn share the machine's cores; other jobs may run on it too (see load averages).",
    ]
    if args.quick:
        notes.insert(0, "**Quick run (`--quick`)**: 3-second runs, 2 rounds, on a shared and noisy machine — "
                        "read the figures as rough; run without `--quick` for the reference numbers.")
    markdown = ["# Benchmark results", "",
                f"Produced by `.venv/bin/python bench/run.py {' '.join(sys.argv[1:])}`.".replace("  ", " "), "",
                "## Machine", "", table(["", ""], [[k, v] for k, v in about.items()]), "", "## Notes", ""]
    markdown += [f"- {n}" for n in notes]
    for title, intro, body in sections_md:
        markdown += ["", f"## {title}", "", intro, "", body]
    text = "\n".join(markdown) + "\n"
    print(text)
    Path(args.results).write_text(text)
    Path(args.results).with_suffix(".json").write_text(json.dumps(report, indent=1, default=str))
    log(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
