"""A Sentinel failover, manual then a SIGKILL of the new master, under steady hits from two
service instances: every hit answered 204 is counted, none twice, and the switch is logged."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from service.ops.redis_process import RedisProcess, free_port, server_binary

from .conftest import ADMIN_TOKEN, CHROME
from .servers import request, stop_process, wait_for

MASTER = "vam"
HITS_PER_SECOND = 100
TRAFFIC_CAP_SECONDS = 90
"""The load loop stops after this long whatever happens (bounded load)."""

pytestmark = pytest.mark.slow


class Sentinels:
    """A master, its replica and three redis-sentinel processes (quorum 2, down-after 2 s), on loopback."""

    def __init__(self, base: Path):
        self.base = base
        self.master = RedisProcess(base / "a", appendonly=True).start()
        self.replica = RedisProcess(base / "b", appendonly=True,
                                    extra_args=("--replicaof", "127.0.0.1", str(self.master.port))).start()
        started = [start_sentinel(base / f"sentinel-{n}", self.master.port, quorum=2) for n in range(3)]
        self.ports = [port for port, _ in started]
        self.processes: list[subprocess.Popen] = [process for _, process in started]
        self.probes = [redis.Redis(port=port, decode_responses=True) for port in self.ports]

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in self.ports) + f"/{MASTER}"

    def master_port(self) -> int:
        return int(self.probes[0].sentinel_get_master_addr_by_name(MASTER)[1])

    def ready(self) -> bool:
        """Every sentinel sees the replica and the two other sentinels."""
        try:
            return all(p.sentinel_master(MASTER)["num-slaves"] >= 1 and
                       p.sentinel_master(MASTER)["num-other-sentinels"] >= 2 for p in self.probes)
        except redis.RedisError:
            return False

    def stop(self) -> None:
        for process in self.processes:
            stop_process(process, 10)
        for server in (self.master, self.replica):
            server.stop(signal.SIGKILL)


def start_sentinel(folder: Path, master_port: int, quorum: int = 1) -> tuple[int, subprocess.Popen]:
    """A redis-sentinel process on a free loopback port watching 127.0.0.1:``master_port`` as MASTER."""
    folder.mkdir()
    port = free_port()
    conf = folder / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
                    f"sentinel monitor {MASTER} 127.0.0.1 {master_port} {quorum}\n"
                    f"sentinel down-after-milliseconds {MASTER} 2000\n"
                    f"sentinel failover-timeout {MASTER} 10000\n")
    return port, subprocess.Popen([server_binary("redis"), str(conf), "--sentinel"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def sentinel_app(started: list[tuple[int, subprocess.Popen]], tmp_path: Path):
    """The app on the ``started`` sentinels, each hit written before it is answered (or held)."""
    from service import create_app

    return create_app({"REDIS_URL": "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p, _ in started)
                       + f"/{MASTER}", "ADMIN_TOKEN": ADMIN_TOKEN, "JOURNAL_DIR": str(tmp_path / "journal"),
                       "FLUSH_INTERVAL_MS": 0, "COUNTERS_CACHE_SECONDS": 0, "SITE_CACHE_SECONDS": 0,
                       "REDIS_TIMEOUT_SECONDS": 1})


def in_sync(replica: RedisProcess, master: RedisProcess) -> bool:
    """``replica`` replicates ``master``, linked, and has every write the master had a moment ago."""
    try:
        wanted = redis.Redis(port=master.port).info("replication")["master_repl_offset"]
        info = redis.Redis(port=replica.port).info("replication")
    except redis.RedisError:
        return False
    return (info["role"] == "slave" and info["master_port"] == master.port and info["master_link_status"] == "up"
            and info["slave_repl_offset"] >= wanted)


class Traffic:
    """Hits of new visitors at a steady rate, alternating between instances, until stopped (or capped)."""

    def __init__(self, bases: list[str]):
        self.bases, self.counted, self.other = bases, 0, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        started, n = time.monotonic(), 0
        while not self.stop.is_set() and time.monotonic() - started < TRAFFIC_CAP_SECONDS:
            n += 1
            body = json.dumps({"site": "travinh", "url": "https://travinh.gov.vn/"}).encode()
            agent = CHROME.replace("131.0.0.0", f"131.{n // 250}.0.{n % 250}")
            try:
                req = urllib.request.Request(self.bases[n % len(self.bases)] + "/api/v1/hit", data=body,
                                             headers={"User-Agent": agent, "Content-Type": "text/plain"})
                with urllib.request.urlopen(req, timeout=10) as response:
                    if response.status == 204 and not response.headers.get("X-Not-Counted"):
                        self.counted += 1
                    else:
                        self.other.append((response.status, response.headers.get("X-Not-Counted")))
            except (urllib.error.URLError, OSError) as exc:
                self.other.append(repr(exc))
            time.sleep(max(0.0, started + n / HITS_PER_SECOND - time.monotonic()))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def pageviews(server: RedisProcess) -> int:
    """The test site's all-time pageviews as ``server`` holds them (0 when it does not answer)."""
    try:
        return int(redis.Redis(port=server.port).hget("va:{travinh}:tot", "pageviews") or 0)
    except redis.RedisError:
        return 0


@pytest.fixture
def sentinels(tmp_path):
    setup = Sentinels(tmp_path)
    try:
        assert wait_for(setup.ready, 30), "the sentinels did not see the replica and each other"
        yield setup
    finally:
        setup.stop()


def test_failover_then_killed_master_loses_no_answered_hit(sentinels, tmp_path, gunicorn_processes):
    """Hits answered 204 through a manual failover and a SIGKILL of the new master are all counted, once."""
    ports = [free_port(), free_port()]
    for port in ports:
        gunicorn_processes(sentinels.url, tmp_path / f"service-{port}", port, IP_HITS_PER_MINUTE="0")
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    status, _ = request(f"{bases[0]}/api/v1/sites/travinh", json.dumps({"domains": ["travinh.gov.vn"]}).encode(),
                        {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}, "PUT")
    assert status == 201
    old, new = sentinels.master, sentinels.replica
    with Traffic(bases) as traffic:
        time.sleep(2)
        sentinels.probes[0].execute_command("SENTINEL", "FAILOVER", MASTER)
        assert wait_for(lambda: sentinels.master_port() == new.port, 30), "no failover"
        time.sleep(1)
        # The old master rejoins as a replica (about 10 s later) and catches up; then its master dies.
        assert wait_for(lambda: in_sync(old, new), 40), "the old master did not rejoin as a replica"
        answered = traffic.counted  # the hits held while no replica could confirm them are written first
        assert wait_for(lambda: pageviews(new) >= answered, 90), "the buffered hits were not written"
        new.send_signal(signal.SIGKILL)
        assert wait_for(lambda: sentinels.master_port() == old.port, 40), "no failover after the SIGKILL"
        time.sleep(3)
    assert traffic.counted > 1000 and not [o for o in traffic.other if not isinstance(o, str)], traffic.other[:5]
    total = lambda: pageviews(old)  # noqa: E731
    wait_for(lambda: total() >= traffic.counted, 30)
    time.sleep(1)  # anything counted twice would land by now too
    logs = "".join((tmp_path / f"service-{port}" / f"gunicorn-{port}.log").read_text() for port in ports)
    outcomes = [line for base in bases for line in request(base + "/metrics")[1].decode().splitlines()
                if line.startswith("va_hits_total") and not line.endswith(" 0.0")]
    print(f"\n{traffic.counted} hits answered 204 and counted; {total()} in Redis; "
          f"{len(traffic.other)} not answered; outcomes: {outcomes}")
    warnings = [line for line in logs.splitlines() if '"WARNING"' in line or '"ERROR"' in line]
    assert total() == traffic.counted, "\n".join(warnings[-60:])
    assert "Sentinel names a new master" in logs and f"127.0.0.1:{new.port}" in logs


def test_sentinels_that_disagree_never_let_a_batch_be_written_alone(tmp_path):
    """For a few seconds of a failover the sentinels disagree. One that has not heard of it names the
    old master and sees no healthy replica (it was promoted away): a batch written there must not
    count as written without a replica's confirmation, as its resync will discard it. Here one
    sentinel of three names a server with no replica, two name another: the hit is answered 204 and
    held (/readyz 503); once a majority names that server it counts, once."""
    from .helpers import add_site, counters, hit

    lone, other = RedisProcess(tmp_path / "lone").start(), RedisProcess(tmp_path / "other").start()
    started = [start_sentinel(tmp_path / "s0", lone.port), start_sentinel(tmp_path / "s1", other.port),
               start_sentinel(tmp_path / "s2", other.port)]
    try:
        probes = [redis.Redis(port=port, decode_responses=True) for port, _ in started]
        assert wait_for(lambda: all(p.ping() for p in probes), 10)
        app = sentinel_app(started, tmp_path)
        client = app.test_client()
        add_site(client)  # written to the lone server: the first sentinel names it
        assert redis.Redis(port=lone.port).exists("va:{travinh}:cfg")
        recorder = app.extensions["recorder"]
        assert hit(client).status_code == 204
        assert recorder.depth == 1, "trusted as written, unconfirmed, on a master only one sentinel names"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "redis_unconfirmed" in ready.get_data(as_text=True)

        for probe in probes[1:]:  # the two others now name the lone server too: a majority, no replica
            probe.execute_command("SENTINEL", "REMOVE", MASTER)
            probe.execute_command("SENTINEL", "MONITOR", MASTER, "127.0.0.1", lone.port, 1)
        assert wait_for(lambda: recorder.depth == 0, 30), "the held hit was not written"
        assert counters(client)["today"]["pageviews"] == 1
        assert wait_for(lambda: client.get("/readyz").status_code == 200, 10)
        recorder.close()
    finally:
        for _, process in started:
            stop_process(process, 10)
        for server in (lone, other):
            server.stop(signal.SIGKILL)


def test_a_master_seen_without_replicas_is_trusted_alone_only_once_that_has_lasted(tmp_path):
    """In a failover's first moment every sentinel may still name the old master and see its replica
    no longer up (it is being promoted): a batch written there alone would be discarded by the old
    master's resync (CI lost 21 hits so). "No replica up" confirms batches only once the sentinels'
    majority has said it for FEWER_REPLICAS_AFTER_SECONDS: until then a hit is answered 204 and held."""
    from service.storage.connection import FEWER_REPLICAS_AFTER_SECONDS

    from .helpers import add_site, counters, hit

    lone = RedisProcess(tmp_path / "lone").start()
    started = [start_sentinel(tmp_path / f"s{n}", lone.port) for n in range(3)]
    try:
        probes = [redis.Redis(port=port, decode_responses=True) for port, _ in started]
        assert wait_for(lambda: all(p.ping() for p in probes), 10)
        app = sentinel_app(started, tmp_path)
        client = app.test_client()
        add_site(client)
        recorder = app.extensions["recorder"]
        first_seen = time.monotonic()
        assert hit(client).status_code == 204
        assert recorder.depth == 1, "a master without replicas trusted alone the moment it was seen"
        assert wait_for(lambda: recorder.depth == 0, 30), "the held hit was not written"
        assert time.monotonic() - first_seen >= FEWER_REPLICAS_AFTER_SECONDS - 1.5  # the first check ran at add_site
        assert counters(client)["today"]["pageviews"] == 1
        assert hit(client, ip="10.0.0.9").status_code == 204 and recorder.depth == 0  # now at once
        assert counters(client)["today"]["pageviews"] == 2
        recorder.close()
    finally:
        for _, process in started:
            stop_process(process, 10)
        lone.stop(signal.SIGKILL)
