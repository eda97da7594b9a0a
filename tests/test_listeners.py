"""How gunicorn listens (service/ops/listeners.py): a SO_REUSEPORT socket per worker spreads keep-alive
connections over the workers, a worker killed is replaced by one that binds again, and a second
instance on the same address refuses to start instead of sharing its traffic."""

from __future__ import annotations

import errno
import http.client
import json
import os
import signal
import socket
import time
import types
from pathlib import Path

import pytest
from gunicorn.config import Config

from service.ops import listeners
from service.ops.redis_process import free_port

from .conftest import ADMIN_TOKEN, CHROME
from .servers import launch_gunicorn, request, stop_process, wait_for, wait_for_total, worker_pids

CONNECTIONS = 16
"""Keep-alive connections opened at once (nginx keeps 16): all on one of two workers by chance: 2**-15."""


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets a process holds open (none once it has exited)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except FileNotFoundError:
        pass
    return inodes


def tcp_sockets(port: int) -> list[tuple[int, str, int]]:
    """(remote port, state, inode) of every IPv4 socket whose local port is ``port``; state 0A listens."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            rows.append((int(fields[2].rsplit(":", 1)[1], 16), fields[3], int(fields[9])))
    return rows


def listening_workers(master: int, port: int) -> dict[int, int]:
    """Each worker of ``master`` and how many listening sockets on ``port`` it holds."""
    listening = {inode for _, state, inode in tcp_sockets(port) if state == "0A"}
    return {pid: len(socket_inodes(pid) & listening) for pid in worker_pids(master)}


def both_listening(master: int, port: int) -> dict[int, int] | None:
    """The workers' listening sockets once both workers listen (have bound, or inherited, one)."""
    found = listening_workers(master, port)
    return found if len(found) == 2 and all(found.values()) else None


def serving_workers(master: int, port: int, connections: list[http.client.HTTPConnection]) -> list[int | None]:
    """The worker that accepted each open connection (by the inode of its end, in /proc)."""
    inodes = {remote: inode for remote, state, inode in tcp_sockets(port) if state == "01"}
    owners = {inode: pid for pid in worker_pids(master) for inode in socket_inodes(pid)}
    return [owners.get(inodes.get(c.sock.getsockname()[1])) for c in connections]


def hit_burst(port: int, first: int) -> list[http.client.HTTPConnection]:
    """Open ``CONNECTIONS`` keep-alive connections at once, then send two hits (new visitors) on each."""
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(CONNECTIONS)]
    for connection in connections:
        connection.connect()
    for round_ in range(2):
        for n, connection in enumerate(connections):
            number = first + round_ * CONNECTIONS + n
            body = json.dumps({"site": "travinh", "url": "https://travinh.gov.vn/"})
            agent = CHROME.replace("131.0.0.0", f"131.{number // 250}.0.{number % 250}")
            connection.request("POST", "/api/v1/hit", body, {"User-Agent": agent, "Content-Type": "text/plain"})
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 204, answer.status
    return connections


def error_messages(log: Path) -> list[str]:
    """The messages of the ERROR lines of a JSON log."""
    return [line["message"] for line in map(json.loads, log.read_text().splitlines()) if line["level"] == "ERROR"]


def close(connections: list[http.client.HTTPConnection]) -> None:
    for connection in connections:
        connection.close()


@pytest.fixture
def service(redis_url, tmp_path, gunicorn_processes):
    """gunicorn with the shipped config (two workers), both listening, and the site travinh."""
    port = free_port()
    master = gunicorn_processes(redis_url, tmp_path, port)
    assert wait_for(lambda: both_listening(master.pid, port), 20), listening_workers(master.pid, port)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    request(f"http://127.0.0.1:{port}/api/v1/sites/travinh", b'{"domains": ["travinh.gov.vn"]}', auth, "PUT")
    return types.SimpleNamespace(master=master, port=port, base=f"http://127.0.0.1:{port}")


def test_keep_alive_connections_are_spread_over_both_workers(service):
    """16 keep-alive connections opened at once, two hits on each: both workers serve some, each
    worker on a listening socket of its own."""
    connections = hit_burst(service.port, 0)
    try:
        served = serving_workers(service.master.pid, service.port, connections)
    finally:
        close(connections)
    assert set(served) == set(worker_pids(service.master.pid)), served
    assert set(listening_workers(service.master.pid, service.port).values()) == {1}
    assert len([row for row in tcp_sockets(service.port) if row[1] == "0A"]) == 2  # none in the master
    assert wait_for_total(service.base, "travinh", 2 * CONNECTIONS)["total"]["pageviews"] == 2 * CONNECTIONS


def test_a_killed_worker_is_replaced_and_every_answered_hit_counts(service):
    """A worker SIGKILLed: the other serves every new connection meanwhile, the worker started in
    its place binds a socket of its own and serves its share, and every hit answered 204 counts."""
    close(hit_burst(service.port, 0))
    wait_for_total(service.base, "travinh", 2 * CONNECTIONS)  # the victim's buffered hits are written
    victim, survivor = worker_pids(service.master.pid)
    os.kill(victim, signal.SIGKILL)
    # Reaped, so all its threads have exited and its listening socket is closed (no new connection
    # queues on it; those queued when it died are reset, unless net.ipv4.tcp_migrate_req is 1).
    assert wait_for(lambda: victim not in worker_pids(service.master.pid), 10)
    close(hit_burst(service.port, 2 * CONNECTIONS))  # every connection answered, by whoever listens
    assert wait_for(lambda: both_listening(service.master.pid, service.port), 20)
    workers = set(worker_pids(service.master.pid))
    assert survivor in workers and victim not in workers
    connections = hit_burst(service.port, 4 * CONNECTIONS)
    try:
        assert set(serving_workers(service.master.pid, service.port, connections)) == workers
    finally:
        close(connections)
    assert wait_for_total(service.base, "travinh", 6 * CONNECTIONS)["total"]["pageviews"] == 6 * CONNECTIONS


def test_a_second_instance_on_the_same_port_refuses_to_start(service, redis_url, tmp_path):
    """A second gunicorn on the first's address exits 1 with a JSON ERROR naming the address, and
    the first keeps all the traffic."""
    second, log = launch_gunicorn(redis_url, tmp_path / "second", service.port)
    try:
        assert second.wait(30) == 1
    finally:
        stop_process(second)
    errors = error_messages(log)
    assert f"something already listens on http://127.0.0.1:{service.port}" in errors[0], errors
    assert len([row for row in tcp_sockets(service.port) if row[1] == "0A"]) == 2
    assert set(listening_workers(service.master.pid, service.port).values()) == {1}
    assert request(service.base + "/healthz")[0] == 200


def test_an_address_this_host_lacks_refuses_to_start_at_once(redis_url, tmp_path):
    """BIND on an address the host does not have exits 1 at once, naming it (with reuse_port alone,
    the master would start and its workers fail to bind and be restarted, on and on)."""
    port = free_port()
    process, log = launch_gunicorn(redis_url, tmp_path, port, BIND=f"192.0.2.1:{port}")  # TEST-NET-1
    try:
        assert process.wait(10) == 1
    finally:
        stop_process(process)
    errors = error_messages(log)
    assert errors[0].startswith(f"Refusing to start: cannot listen on http://192.0.2.1:{port}: "), errors


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
@pytest.mark.parametrize("holder_reuses_port", [True, False])
def test_an_address_something_listens_on_fails_the_probe(host, holder_reuses_port):
    """The probe fails with EADDRINUSE on an address a socket listens on (SO_REUSEPORT or not), and
    passes once it is closed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, int(holder_reuses_port))
        holder.bind((host, 0))
        holder.listen()
        address = holder.getsockname()[:2]
        assert listeners.bind_error(address).errno == errno.EADDRINUSE
    assert listeners.bind_error(address) is None


@pytest.mark.parametrize(("bind", "shared_because"), [
    ("127.0.0.1:8000", None),
    ("[::1]:8000", None),
    ("localhost", None),
    ("0.0.0.0:8000", None),
    ("unix:/run/va.sock", "each worker would replace the socket file"),
    ("fd://3", "handed over already"),
    ("127.0.0.1:0", "port 0"),
])
def test_addresses_that_keep_one_shared_socket(bind, shared_because):
    """Unix sockets, inherited descriptors and port 0 keep gunicorn's one socket shared by the workers."""
    cfg = Config()
    cfg.set("bind", [bind])
    reason = listeners.shared_socket_reason(types.SimpleNamespace(cfg=cfg))
    assert (reason is None) if shared_because is None else (shared_because in reason), reason


def test_a_unix_socket_stays_shared_and_is_removed_on_stop(redis_url, tmp_path):
    """BIND=unix:…: the master holds the one socket (as gunicorn does without reuse_port), it
    answers, and it is gone after a stop."""
    path = tmp_path / "va.sock"
    process, log = launch_gunicorn(redis_url, tmp_path, 0, BIND=f"unix:{path}")
    try:
        connection = None
        deadline = time.monotonic() + 20
        while connection is None:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            try:
                connection = unix_connection(path)
                connection.request("GET", "/healthz")
                assert connection.getresponse().status == 200
            except OSError:
                connection = None
                time.sleep(0.1)
        connection.close()
        listening = {int(fields[6]) for fields in map(str.split, Path("/proc/net/unix").read_text().splitlines()[1:])
                     if fields[-1] == str(path) and fields[3] == "00010000"}  # flags: __SO_ACCEPTCON
        assert len(listening) == 1
        assert all(listening <= socket_inodes(pid) for pid in [process.pid, *worker_pids(process.pid)])
    finally:
        stop_process(process)
    assert not path.exists()
    assert "reuse_port off, the workers share one socket: unix:" in log.read_text()


def unix_connection(path: Path) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection("localhost", timeout=10)
    connection.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.sock.connect(str(path))
    return connection
