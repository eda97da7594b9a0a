"""The same counting over one Redis, a three-master Redis Cluster and Redis Sentinel."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import redis

from service import create_app
from service.ops.redis_process import RedisProcess, free_port, server_binary

from .conftest import ADMIN_TOKEN
from .helpers import ADMIN, add_site, counters, hit
from .servers import request, wait_for_total


def redis_cli() -> str:
    return shutil.which("redis-cli") or str(Path(server_binary("redis")).with_name("redis-cli"))


def wait_until(predicate, timeout_seconds=20.0, what="condition"):
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too, as Redis Cluster needs."""
    import random
    import socket

    while True:
        port = random.randint(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Three masters with --cluster-enabled, joined by redis-cli --cluster create."""
    base = tmp_path_factory.mktemp("cluster")
    nodes = [RedisProcess(base / f"n{i}", port=cluster_port(), appendonly=False,
                          extra_args=("--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
                                      "--cluster-config-file", str(base / f"n{i}" / "nodes.conf"))).start()
             for i in range(3)]
    try:
        subprocess.run([redis_cli(), "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes),
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        for node in nodes:
            client = redis.Redis(port=node.port)
            wait_until(lambda: client.cluster("info")["cluster_state"] == "ok", what="cluster_state:ok")
        yield nodes
    finally:
        for node in nodes:
            node.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory):
    """A master, its replica and one sentinel watching them as 'mymaster'."""
    base = tmp_path_factory.mktemp("sentinel")
    master = RedisProcess(base / "master", appendonly=False).start()
    replica = RedisProcess(base / "replica", appendonly=False,
                           extra_args=("--replicaof", "127.0.0.1", str(master.port))).start()
    port = free_port()
    conf = base / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {base}\n"
                    f"sentinel monitor mymaster 127.0.0.1 {master.port} 1\n"
                    "sentinel down-after-milliseconds mymaster 1000\n"
                    "sentinel failover-timeout mymaster 5000\n")
    process = subprocess.Popen([server_binary("redis"), str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        probe = redis.Redis(port=port)
        wait_until(lambda: probe.sentinel_master("mymaster")["num-slaves"] >= 1, what="sentinel sees the replica")
        yield {"url": f"redis+sentinel://127.0.0.1:{port}/mymaster", "sentinel": probe,
               "servers": (master, replica)}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
        for server in (master, replica):
            server.stop(signal.SIGKILL)


@pytest.fixture(params=["single", "cluster", "sentinel"])
def mode_url(request, redis_url):
    """REDIS_URL for each deployment mode, each emptied before the test."""
    if request.param == "single":
        return redis_url
    if request.param == "cluster":
        nodes = request.getfixturevalue("cluster")
        for node in nodes:
            redis.Redis(port=node.port).flushall()
        return f"redis+cluster://127.0.0.1:{nodes[0].port},127.0.0.1:{nodes[1].port}"
    setup = request.getfixturevalue("sentinel")
    master = setup["sentinel"].sentinel_master("mymaster")
    redis.Redis(host=master["ip"], port=master["port"]).flushall()
    return setup["url"]


@pytest.fixture
def mode_app(mode_url, tmp_path):
    def build(**overrides):
        return create_app({"REDIS_URL": mode_url, "ADMIN_TOKEN": ADMIN_TOKEN, "COUNTERS_CACHE_SECONDS": 0,
                           "SITE_CACHE_SECONDS": 0, "JOURNAL_DIR": str(tmp_path / "journal"),
                           "REDIS_TIMEOUT_SECONDS": 1, "FLUSH_INTERVAL_MS": 0, **overrides})
    return build


@pytest.mark.parametrize("flush_ms", [0, 5])
def test_counts_exactly_in_every_mode(mode_app, flush_ms):
    """Hits for several sites (several cluster slots) count exactly, written one by one or in batches."""
    app = mode_app(FLUSH_INTERVAL_MS=flush_ms)
    client = app.test_client()
    sites = [f"site-{n}" for n in range(6)]
    for site in sites:
        add_site(client, site=site, domains=[f"{site}.gov.vn"])
    for n in range(240):
        site = sites[n % 6]
        assert hit(client, site=site, url=f"https://{site}.gov.vn/", ip=f"10.0.0.{n % 20}").status_code == 204
    assert app.extensions["recorder"].flush()
    for site in sites:
        c = counters(client, site)
        assert c["today"]["pageviews"] == 40 and c["total"]["pageviews"] == 40
        assert c["today"]["visits"] == len({n % 20 for n in range(240) if n % 6 == sites.index(site)})
        assert c["online"] == c["today"]["visits"]


def test_group_readers_count_in_every_mode(mode_app, mode_url):
    """A reader of two member sites is one group visitor on a single Redis, a Cluster (the group's keys
    in their own slot, written beside the sites') and Sentinel, also after the script cache is flushed."""
    app = mode_app(FLUSH_INTERVAL_MS=5)
    client = app.test_client()
    assert client.put("/api/v1/groups/tinh", json={"timezone": "Asia/Ho_Chi_Minh", "label": "Tỉnh"},
                      headers=ADMIN).status_code == 201
    for site in ("so-a", "so-b"):
        assert client.put(f"/api/v1/sites/{site}", json={"domains": [f"{site}.gov.vn"], "group": "tinh"},
                          headers=ADMIN).status_code in (200, 201)
    assert hit(client, site="so-a", url="https://so-a.gov.vn/").status_code == 204
    assert app.extensions["recorder"].flush()
    store = app.extensions["store"]
    if not store.is_cluster:
        store.redis.script_flush()
    assert hit(client, site="so-b", url="https://so-b.gov.vn/").status_code == 204
    assert hit(client, site="so-b", url="https://so-b.gov.vn/x", ip="10.9.9.9").status_code == 204
    assert app.extensions["recorder"].flush()
    body = client.get("/api/v1/groups/tinh/counters").get_json()
    assert body["today"] == {"visits": 3, "pageviews": 3, "visitors": 2} and body["online"] == 2


def test_admin_history_baseline_purge_and_readiness_in_every_mode(mode_app):
    """Everything beside hits works too: readiness, baseline, history, purge."""
    client = mode_app().test_client()
    assert client.get("/readyz").status_code == 200
    add_site(client)
    hit(client)
    assert client.put("/api/v1/sites/travinh/baseline", json={"visits": 100}, headers=ADMIN).status_code == 200
    assert counters(client)["total"]["visits"] == 101
    rows = client.get("/api/v1/sites/travinh/history?days=2", headers=ADMIN).get_json()["days"]
    assert rows[-1]["pageviews"] == 1
    assert client.delete("/api/v1/sites/travinh?purge=true", headers=ADMIN).status_code == 204
    add_site(client)
    assert counters(client)["total"] == {"visits": 0, "pageviews": 0, "visitors": 0}


def test_sentinel_failover_under_a_stream_of_hits(sentinel, tmp_path):
    """The replica is promoted while hits flow: every hit answered, counting goes on on the new master."""
    app = create_app({"REDIS_URL": sentinel["url"], "ADMIN_TOKEN": ADMIN_TOKEN, "COUNTERS_CACHE_SECONDS": 0,
                      "SITE_CACHE_SECONDS": 60, "JOURNAL_DIR": str(tmp_path / "journal"), "FLUSH_INTERVAL_MS": 0})
    client = app.test_client()
    master = sentinel["sentinel"].sentinel_master("mymaster")
    redis.Redis(host=master["ip"], port=master["port"]).flushall()
    add_site(client)
    counters(client)
    stop, statuses = threading.Event(), []

    def stream():
        n = 0
        while not stop.is_set():
            statuses.append(hit(client, ip=f"10.9.{n // 256 % 256}.{n % 256}").status_code)
            n += 1
            time.sleep(0.005)

    worker = threading.Thread(target=stream)
    worker.start()
    time.sleep(0.5)
    old = master["port"]
    sentinel["sentinel"].execute_command("SENTINEL", "FAILOVER", "mymaster")
    wait_until(lambda: sentinel["sentinel"].sentinel_master("mymaster")["port"] != old, what="a new master")
    time.sleep(1.5)
    before_stop = len(statuses)
    time.sleep(0.5)
    stop.set()
    worker.join()
    assert app.extensions["recorder"].flush(timeout_seconds=15)
    assert set(statuses) == {204} and len(statuses) > before_stop
    total = counters(client)["total"]["pageviews"]
    # Replication is asynchronous: Redis may lose the last few ms of writes the old master
    # acknowledged before it was demoted. The service itself must lose nothing more.
    assert len(statuses) - 5 <= total <= len(statuses)


def test_two_instances_over_one_cluster_count_exactly(cluster, tmp_path, gunicorn_processes):
    """Two service instances on one Redis Cluster, hits spread over both, count every hit once."""
    from concurrent.futures import ThreadPoolExecutor

    for node in cluster:
        redis.Redis(port=node.port).flushall()
    url = f"redis+cluster://127.0.0.1:{cluster[0].port}"
    ports = [free_port(), free_port()]
    for n, port in enumerate(ports):
        gunicorn_processes(url, tmp_path / f"i{n}", port)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    request(f"http://127.0.0.1:{ports[0]}/api/v1/sites/travinh",
            json.dumps({"domains": ["travinh.gov.vn"]}).encode(), auth, "PUT")
    body = json.dumps({"site": "travinh", "url": "https://travinh.gov.vn/"}).encode()

    def send(n):
        agent = f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0.0.{n % 100} Safari/537.36"
        return request(f"http://127.0.0.1:{ports[n % 2]}/api/v1/hit", body, {"User-Agent": agent})[0]

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(send, range(2000)))
    assert statuses.count(204) == 2000
    for port in ports:
        body_read = wait_for_total(f"http://127.0.0.1:{port}", "travinh", 2000)
        assert (body_read["total"]["pageviews"], body_read["total"]["visits"]) == (2000, 100)
