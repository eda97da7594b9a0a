#!/usr/bin/env python
"""Per-step costs of a hit, in-process (no gunicorn, no wrk): run by bench/run.py.

    .venv/bin/python bench/micro.py REDIS_URL

Prints one JSON object: step -> µs per call (best of several repeats, so machine noise
inflates it less than wrk runs). Needs PROMETHEUS_MULTIPROC_DIR set to an empty folder
(run.py does it) so metrics cost what they cost under gunicorn. ``run()`` is the benchmark
section that starts this script in a fresh process and tables its answer.
"""

from __future__ import annotations

import collections
import json
import os
import secrets
import subprocess
import sys
import time
import timeit
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.launch import Bench, log, service_env  # noqa: E402
from bench.report import Section, fmt, table  # noqa: E402


def best(fn, number: int, repeat: int = 5) -> float:
    """µs per call, best of ``repeat`` runs of ``number`` calls."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    redis_url = sys.argv[1]
    os.environ.update({"REDIS_URL": redis_url, "VISITOR_HITS_PER_MINUTE": "1000000",
                       "IP_HITS_PER_MINUTE": "0", "LOG_LEVEL": "WARNING", "ADMIN_TOKEN": "micro-" + "0" * 32,
                       "JOURNAL_DIR": os.environ.get("JOURNAL_DIR", "")})
    from crawlerdetect import CrawlerDetect

    from bench.floor import create_app
    from service.ingest import crawlers, filters
    from service.storage import keys
    from service.ops import metrics
    from service.model import visitor
    from service.model.hits import RequestFacts
    from service.ingest.beacon import Beacon
    from service.model.sites import Site
    from service.model.hits import Hit

    out: dict[str, float] = {}
    started = time.perf_counter()
    matcher = crawlers.CrawlerMatcher()
    out["crawler matcher start-up: compile the patterns (once per worker)"] = (time.perf_counter() - started) * 1e6
    agents = [f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              f"Chrome/{100 + i % 26}.0.{i}.{i % 200} Safari/537.36" for i in range(60000)]
    long_agents = [(agent + " [FBAN/FB4A" + ";FBLC/vi_VN;FBOP/1;FBRV/0" * 60)[:1024] for agent in agents[:4000]]
    bots = [f"Mozilla/5.0 (compatible; Googlebot/2.{i}; +http://www.google.com/bot.html)" for i in range(20000)]
    fresh, fresh_long, fresh_bots = iter(agents), iter(long_agents), iter(bots)
    out["crawler verdict, new User-Agent (service.crawlers, uncached)"] = best(
        lambda: matcher.is_crawler(next(fresh)), number=5000, repeat=5)
    out["crawler verdict, new 1,024-char User-Agent (uncached)"] = best(
        lambda: matcher.is_crawler(next(fresh_long)), number=500, repeat=5)
    out["crawler verdict, new crawler User-Agent (uncached)"] = best(
        lambda: matcher.is_crawler(next(fresh_bots)), number=2000, repeat=5)
    filters.is_crawler(agents[0])
    out["crawler verdict, cached (filters.is_crawler LRU)"] = best(lambda: filters.is_crawler(agents[0]), 20000)
    fresh_cd = iter(agents[40000:])
    out["crawlerdetect alone, new User-Agent (what the matcher replaces)"] = best(
        lambda: CrawlerDetect().is_crawler(next(fresh_cd)), number=50, repeat=5)
    site = Site("bench-a", ("bench-a.bench.example.vn",), "Asia/Ho_Chi_Minh")
    environ = {"HTTP_USER_AGENT": agents[0], "CONTENT_TYPE": "text/plain;charset=UTF-8",
               "HTTP_ORIGIN": "https://bench-a.bench.example.vn"}
    body = b'{"site":"bench-a","url":"https://bench-a.bench.example.vn/tin-tuc/bai-viet-123.html"}'
    beacon = Beacon.from_fields("bench-a", "https://bench-a.bench.example.vn/tin-tuc/bai-viet-123.html", None, None)
    facts = RequestFacts.from_environ(environ)
    out["RequestFacts.from_environ"] = best(lambda: RequestFacts.from_environ(environ), 20000)
    out["filters.drop_reason (cached verdict)"] = best(lambda: filters.drop_reason(beacon, site, facts), 20000)
    out["json.loads of the body"] = best(lambda: json.loads(body.decode()), 20000)
    out["Beacon.from_fields (validate, urlsplit, host)"] = best(
        lambda: Beacon.from_fields("bench-a", "https://bench-a.bench.example.vn/tin-tuc/bai-viet-123.html", None, None),
        20000)
    salt = secrets.token_bytes(32)
    out["visitor_id (BLAKE2b)"] = best(lambda: visitor.visitor_id(salt, "bench-a", "127.0.0.1", agents[0]), 20000)
    now = datetime.now(timezone.utc)
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    client = visitor.address_id(salt, "127.0.0.1")
    today = now.astimezone(zone).date()

    def hit_keys():
        day_keys = keys.for_day("bench-a", zone, today)
        return day_keys.session("v" * 24), day_keys.address_minute(client, int(now.timestamp()) // 60)

    out["keys.for_day + per-hit key names"] = best(hit_keys, 20000)
    out["secrets.token_hex(8) (request id / batch id)"] = best(lambda: secrets.token_hex(8), 20000)
    counter = metrics.HITS.labels(outcome="pageview")
    out["prometheus Counter.inc (multiprocess mmap)"] = best(counter.inc, 20000)
    histogram = metrics.REQUESTS.labels(route="/api/v1/hit", method="POST", status="2xx")
    out["prometheus Histogram.observe (multiprocess mmap)"] = best(lambda: histogram.observe(0.003), 20000)
    out["prometheus .labels(...) lookup + observe"] = best(
        lambda: metrics.REQUESTS.labels(route="/api/v1/hit", method="POST", status="2xx").observe(0.003), 20000)

    app = create_app()
    store = app.extensions["store"]
    store.put_site(site)
    out["Redis PING round trip (redis-py)"] = best(store.redis.ping, 2000)
    hit = Hit("bench-a", "v" * 24, "pageview", now, "Asia/Ho_Chi_Minh")
    out["CounterStore.record_hits, 1 hit (EVALSHA round trip)"] = best(
        lambda: store.record_hits([hit], secrets.token_hex(8)), 1000)
    batch = [Hit("bench-a", secrets.token_hex(12), "pageview", now, "Asia/Ho_Chi_Minh") for _ in range(500)]
    out["CounterStore.record_hits, 500 hits, per hit"] = best(
        lambda: store.record_hits(batch, secrets.token_hex(8)), 5, repeat=3) / 500
    flush = [Hit("bench-a", secrets.token_hex(12), "pageview", now, "Asia/Ho_Chi_Minh", day=today,
                 page=f"/tin-tuc/bai-viet-{n}.html", title=f"Bài viết {n}") for n in range(55)]
    out["CounterStore.record_hits, 55 hits on distinct pages (one 20 ms flush), per hit"] = best(
        lambda: store.record_hits(flush, secrets.token_hex(8)), 50, repeat=3) / 55

    client_ = app.test_client()
    environ = {"REMOTE_ADDR": "127.0.0.1"}
    request_headers = {"User-Agent": agents[0], "Content-Type": "text/plain;charset=UTF-8",
                       "Origin": "https://bench-a.bench.example.vn"}
    for path in ("/bench/floor", "/api/v1/hit"):
        client_.post(path, data=body, headers=request_headers, environ_base=environ)
    out["Flask test client: POST /bench/floor (whole app, no HTTP server)"] = best(
        lambda: client_.post("/bench/floor", data=body, headers=request_headers, environ_base=environ), 1000)
    out["Flask test client: POST /api/v1/hit (whole app, no HTTP server)"] = best(
        lambda: client_.post("/api/v1/hit", data=body, headers=request_headers, environ_base=environ), 1000)
    new_agents = iter(f"{agent} Zalo android/{i}" for i, agent in enumerate(agents * 2))
    out["Flask test client: POST /api/v1/hit, a new User-Agent each call"] = best(
        lambda: client_.post("/api/v1/hit", data=body, headers={**request_headers, "User-Agent": next(new_agents)},
                             environ_base=environ), 1000)
    out.update(steps_in_context(app, client_, body, request_headers, environ, agents))
    print(json.dumps(out))


def steps_in_context(app, client, body: bytes, headers: dict, environ: dict, agents: list[str]) -> dict[str, float]:
    """µs of each pipeline step inside whole requests (caches cold as in a server, unlike the rows
    above), and of the flusher thread per hit, for pooled agents and for a new agent each request."""
    pipeline, recorder = app.extensions["hits"], app.extensions["recorder"]
    spent: collections.Counter = collections.Counter()

    def timed(name, step):
        def run(*args):
            started = time.perf_counter_ns()
            try:
                return step(*args)
            finally:
                spent[name] += time.perf_counter_ns() - started
        return run

    steps, record, write_all = pipeline._steps, pipeline.record, recorder._write_all
    pipeline._steps = [timed(name, step) for name, step in zip(pipeline.STEPS, steps)]
    pipeline.record = timed("record", record)

    def write_timed():  # the flusher thread's own CPU (thread_time), not the wait for Redis
        started = time.thread_time_ns()
        try:
            return write_all()
        finally:
            spent["flusher thread (CPU)"] += time.thread_time_ns() - started
    recorder._write_all = write_timed
    out = {}
    number = 5000
    for label, agent_of in (("pooled agents", lambda i: agents[i % 2000]),
                            ("a new agent each request", lambda i: f"{agents[i % 2000]} Zalo android/{i}")):
        for i in range(2000):  # the pooled agents' verdicts cached, as after the bench's warm-up
            client.post("/api/v1/hit", data=body, headers={**headers, "User-Agent": agents[i]}, environ_base=environ)
        recorder.flush()
        spent.clear()
        offset = 100_000 * len(out)
        for i in range(number):
            client.post("/api/v1/hit", data=body, headers={**headers, "User-Agent": agent_of(offset + i)},
                        environ_base=environ)
        recorder.flush()
        for name, ns in spent.items():
            out[f"in a request, {label}: {name}"] = ns / number / 1000
    pipeline._steps, pipeline.record, recorder._write_all = steps, record, write_all
    return out


def run(bench: Bench) -> list[Section]:
    """The benchmark section: this script in a fresh process (clean caches), its answer as a table."""
    folder = bench.workdir / "micro"
    (folder / "metrics").mkdir(parents=True, exist_ok=True)
    env = {**service_env(), "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"), "JOURNAL_DIR": str(folder / "journal")}
    log("micro: per-step costs in-process")
    done = subprocess.run([sys.executable, __file__, bench.store.url], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    costs = next((json.loads(line) for line in reversed(done.stdout.splitlines()) if line.startswith("{")), None)
    if costs is None:
        log(f"micro failed: {done.stderr[-800:]}")
        return []
    bench.raw["micro"] = costs
    intro = ("`bench/micro.py`: each step timed alone in one Python process (best of 5 repeats), "
             "against the same private Redis; the last two rows run the whole Flask app through its "
             "test client, without gunicorn or HTTP. Timings include this machine's noise.")
    return [Section("Per-step costs of a hit, in-process", intro,
                    table(["step", "µs per call"], [[step, fmt(us, 1)] for step, us in costs.items()]))]


if __name__ == "__main__":
    main()
