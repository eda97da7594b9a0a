"""Start and measure the benchmark's processes: a private Redis, the service under gunicorn, wrk."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import redis

from service.storage import keys
from service.ops.redis_process import RedisProcess, free_port

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SITES = ("bench-a", "bench-b", "bench-c", "bench-d")
ADMIN_TOKEN = "bench-" + secrets.token_urlsafe(32)  # the service refuses tokens under 32 characters
GUNICORN = ["-m", "gunicorn", "-c", "python:service.gunicorn_config", "bench.floor:create_app()"]
"""The image's command, with the floor route added to the same app (run with this interpreter: the project's .venv)."""

SERVICE_SETTINGS = (
    "REDIS_URL", "ADMIN_TOKEN", "ONLINE_WINDOW_SECONDS", "VISIT_TIMEOUT_SECONDS", "DEFAULT_TIMEZONE",
    "WEEK_START", "TRUSTED_PROXIES", "COUNTERS_CACHE_SECONDS", "SITE_CACHE_SECONDS",
    "VISITOR_HITS_PER_MINUTE", "IP_HITS_PER_MINUTE", "REDIS_TIMEOUT_SECONDS", "FLUSH_INTERVAL_MS", "MAX_BUFFERED_HITS",
    "JOURNAL_DIR", "ACCESS_LOG", "LOG_LEVEL", "BIND", "PORT", "WEB_CONCURRENCY", "GUNICORN_WORKER_CLASS",
    "GUNICORN_THREADS", "GUNICORN_REUSE_PORT", "PROMETHEUS_MULTIPROC_DIR", "DATA_DIR", "GUNICORN_ACCESS_LOG",
    "VA_BENCH_FLOOR",                        # read by versions before the floor moved to bench/floor.py
)
"""Inherited variables dropped from the service's environment, so every run is configured here."""

BENCH_ENV = {
    "VISITOR_HITS_PER_MINUTE": "1000000",    # 2,000 UAs on one client IP: the cap would drop most hits
    "IP_HITS_PER_MINUTE": "0",               # all load comes from 127.0.0.1: no per-address limit
    "COUNTERS_CACHE_SECONDS": "5",
    "LOG_LEVEL": "WARNING",
}
TICK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def service_env() -> dict[str, str]:
    """This process's environment without any service setting."""
    return {k: v for k, v in os.environ.items() if k not in SERVICE_SETTINGS}


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


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


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


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


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

    def commands_since(self, before: dict[str, int], own_before: collections.Counter) -> dict[str, int]:
        """Commands run since ``before`` (a commandstats), less the benchmark's own reads and INFO."""
        commands = delta(self.commandstats(), before)
        for name, calls in (self.own_commands - own_before).items():
            commands[name] = commands.get(name, 0) - calls
        commands.pop("info", None)
        commands.pop("usec:info", None)
        return commands

    def cpu_seconds(self) -> float:
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def pageviews(self, sites=SITES) -> int:
        """Counted hits so far: the sum of the sites' all-time pageviews."""
        pipe = self.client.pipeline(transaction=False)
        for site in sites:
            pipe.hmget(keys.total(site), "pageviews")
        self.own_commands["hmget"] += len(sites)
        return sum(int(row[0] or 0) for row in pipe.execute())


@dataclasses.dataclass(frozen=True)
class Mode:
    """One gunicorn configuration: worker class, workers, threads, flush interval."""

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
    Mode("gthread", 2, 4, 0), IMAGE_DEFAULT, Mode("gthread", 4, 4, 20),
    Mode("sync", 2, 1, 0), Mode("sync", 2, 1, 20), Mode("sync", 4, 1, 20),
    Mode("gevent", 2, 1, 0), Mode("gevent", 2, 1, 20), Mode("gevent", 4, 1, 20),
]


class Service:
    """The app under gunicorn, started with the image's command and the benchmark's environment."""

    def __init__(self, mode: Mode, redis_url: str, workdir: Path, extra_env: dict[str, str] | None = None):
        self.mode = mode
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir / f"{mode.key}-{self.port}"
        self.env = {**service_env(), **BENCH_ENV, **{
            "BIND": f"127.0.0.1:{self.port}",
            "REDIS_URL": redis_url,
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(self.workdir / "metrics"),
            "JOURNAL_DIR": str(self.workdir / "journal"),
            "WEB_CONCURRENCY": str(mode.workers),
            "GUNICORN_WORKER_CLASS": mode.worker_class,
            "GUNICORN_THREADS": str(mode.threads),
            "FLUSH_INTERVAL_MS": str(mode.flush_ms),
        }, **(extra_env or {})}
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / "gunicorn.log"

    def __enter__(self) -> Service:
        return self                           # started already: `with Service(...).start() as service`

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout_seconds: float = 30.0) -> Service:
        """Start gunicorn, wait until every worker is up, and register the benchmark's sites."""
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
                    self.register_sites()
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
        return sum(cpu_ticks(pid) for pid in [self.process.pid, *self.workers()]) / TICK

    def worker_ticks(self) -> dict[int, int]:
        """CPU ticks so far of each worker (for how evenly a run spread over them)."""
        return {pid: cpu_ticks(pid) for pid in self.workers()}

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
        _, body = http("GET", self.base + "/metrics", timeout=10)
        values: dict[str, float] = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values


@dataclasses.dataclass(frozen=True)
class Load:
    """What wrk sends: a script and the environment it reads (see the .lua files' headers)."""

    script: str = "post_hit.lua"             # post_hit_fresh.lua: a never-seen User-Agent every request
    agents: int = 2000
    sites: tuple[str, ...] = SITES
    agent_chars: int = 0                     # post_hit_fresh.lua: pad every agent to this length
    warm: bool = False

    def env(self) -> dict[str, str]:
        return {"BENCH_DIR": str(BENCH), "BENCH_SITES": ",".join(self.sites), "BENCH_AGENTS": str(self.agents),
                "BENCH_AGENT_CHARS": str(self.agent_chars), "BENCH_WARM": "1" if self.warm else "0"}


@dataclasses.dataclass
class Bench:
    """What every section gets: the private Redis, a scratch folder, the options, the raw results."""

    store: Redis
    workdir: Path
    args: object
    raw: dict = dataclasses.field(default_factory=dict)


def start_wrk(url: str, load: Load, seconds: float, connections: int, threads: int) -> subprocess.Popen:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
            "--latency", "-s", str(BENCH / load.script), url]
    return subprocess.Popen(args, env={**os.environ, **load.env()}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish_wrk(process: subprocess.Popen) -> dict:
    """wrk's summary line (BENCHJSON, from wrk_common.lua) with req/s and the error total added."""
    output, _ = process.communicate(timeout=600)
    for line in output.splitlines():
        if line.startswith("BENCHJSON "):
            result = json.loads(line[len("BENCHJSON "):])
            result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
            result["errors_total"] = sum(result["errors"].values())
            return result
    raise RuntimeError(f"wrk gave no summary: {output[-1500:]}")


def run_wrk(url: str, load: Load, seconds: float, connections: int, threads: int) -> dict:
    return finish_wrk(start_wrk(url, load, seconds, connections, threads))


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


def warm_up(service: Service, store: Redis, args, cap_seconds: float = 60.0) -> None:
    """Show every pooled User-Agent to every worker a few times (verdicts are cached per worker,
    crawler patterns compiled on first use), then briefly load the floor route."""
    target = store.pageviews() + args.agents * service.mode.workers * args.warm_passes
    load = start_wrk(service.base + "/api/v1/hit", Load(agents=args.agents, warm=True), cap_seconds,
                     args.connections, args.wrk_threads)
    deadline = time.monotonic() + cap_seconds
    while time.monotonic() < deadline and load.poll() is None and store.pageviews() < target:
        time.sleep(0.2)
    if load.poll() is None:
        load.send_signal(signal.SIGINT)   # wrk prints its summary and exits
    finish_wrk(load)
    run_wrk(service.base + "/bench/floor", Load(agents=args.agents), 1, args.connections, args.wrk_threads)
    wait_drained(service, store, quiet_polls=3)
