"""What ops see: the same settings however gunicorn is launched, no secret or client address in
the logs, metrics bounded whatever clients send, and a journal folder checked before it is needed."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service import create_app
from service.ingest.journal import Journal
from service.ops.redis_process import RedisProcess, free_port

from .conftest import ADMIN_TOKEN, CHROME
from .helpers import add_site, dropped_total, hit
from .servers import request, stop_process as stop, worker_pids

PROJECT = Path(__file__).resolve().parent.parent


def wait_until_serving(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-2000:]
        try:
            request(base + "/healthz")
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start: " + log.read_text()[-2000:])


def plain_env(redis_url: str, tmp_path: Path, port: int, **extra) -> dict:
    """The environment of an operator who sets only what docs/configuration.md lists."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return {**env, "REDIS_URL": redis_url, "ADMIN_TOKEN": ADMIN_TOKEN, "BIND": f"127.0.0.1:{port}",
            "JOURNAL_DIR": str(tmp_path / "journal"), "TMPDIR": str(tmp_path / "tmp"), "SITE_CACHE_SECONDS": "0",
            **extra}


def test_plain_gunicorn_in_the_project_folder_sums_metrics_over_workers(redis_url, tmp_path):
    """`gunicorn 'service:create_app()'` with nothing else, from the project folder: gunicorn.conf.py
    applies, so every scrape shows all workers' hits; its metrics folder is gone after exit."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "service:create_app()"], cwd=PROJECT,
                               env=plain_env(redis_url, tmp_path, port), stdout=subprocess.DEVNULL,
                               stderr=log.open("wb"))
    try:
        wait_until_serving(base, process, log)
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
        request(base + "/api/v1/sites/travinh", b'{"domains": ["travinh.gov.vn"]}', auth, "PUT")
        body = b'{"site": "travinh", "url": "https://travinh.gov.vn/"}'
        for n in range(40):
            request(base + "/api/v1/hit", body, {"User-Agent": f"{CHROME} n{n}"})
        time.sleep(0.5)  # the last batch lands (FLUSH_INTERVAL_MS)
        scrapes = {counted(request(base + "/metrics")[1].decode()) for _ in range(8)}
        assert scrapes == {40.0}, scrapes
        assert len(set(worker_pids(process.pid))) == 2
    finally:
        stop(process)
    assert list((tmp_path / "tmp").iterdir()) == []  # no va-metrics-* folder left behind


def counted(metrics: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith(('va_hits_total{outcome="visit"}', 'va_hits_total{outcome="pageview"}')))


def test_gunicorn_without_the_config_warns_that_metrics_are_per_worker(redis_url, tmp_path):
    """Started elsewhere, without gunicorn.conf.py, with two workers: a WARNING says what to do."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {**plain_env(redis_url, tmp_path, port), "PYTHONPATH": str(PROJECT)}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                                "service:create_app()"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                               stderr=log.open("wb"))
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", process, log)
    finally:
        stop(process)
    assert "without PROMETHEUS_MULTIPROC_DIR" in log.read_text()
    assert "gunicorn.conf.py" in log.read_text()


def test_logs_carry_no_password_and_no_client_address(tmp_path, gunicorn_processes):
    """A password in REDIS_URL, a Redis that goes away, malformed requests and hits from a
    distinctive address through a trusted proxy: none of it puts the secret or the address in the log."""
    secret, address = "s3cret-Pa55word", "198.51.100.77"
    server = RedisProcess(tmp_path / "redis", appendonly=False, extra_args=("--requirepass", secret)).start()
    try:
        url = f"redis://:{secret}@127.0.0.1:{server.port}/0"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = gunicorn_processes(url, tmp_path, port, TRUSTED_PROXIES="1", ACCESS_LOG="1", LOG_LEVEL="INFO")
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
        request(base + "/api/v1/sites/travinh", b'{"domains": ["travinh.gov.vn"]}', auth, "PUT")
        body = b'{"site": "travinh", "url": "https://travinh.gov.vn/"}'
        for _ in range(3):
            request(base + "/api/v1/hit", body, {"User-Agent": CHROME, "X-Forwarded-For": address})
        for garbage in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(garbage)
                sock.recv(1024)
        server.stop()
        for _ in range(3):
            request(base + "/api/v1/hit", body, {"User-Agent": CHROME, "X-Forwarded-For": address})
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    finally:
        server.stop()
    text = (tmp_path / f"gunicorn-{port}.log").read_text()
    assert "Invalid request from ip=<hidden>" in text  # the warning is kept, without its address
    assert secret not in text
    assert address not in text
    assert "ip=127.0.0.1" not in text


def test_settings_errors_hide_the_password(tmp_path):
    """A REDIS_URL that fails validation is quoted without its password."""
    from service.settings import Settings, SettingsError

    with pytest.raises(SettingsError) as failure:
        Settings.from_mapping({"REDIS_URL": "http://admin:hunter2@redis.internal:6379/0"})
    assert "hunter2" not in str(failure.value) and "***@redis.internal" in str(failure.value)


def test_invented_http_methods_share_one_label(client):
    """Methods a client makes up become method="other": /metrics does not grow with them."""
    for n in range(50):
        client.open("/healthz", method=f"X{n}FOO")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "X1FOO" not in metrics and 'method="other"' in metrics


def test_unwritable_journal_dir_is_said_at_start_in_readyz_and_at_the_loss(redis_url, tmp_path, caplog):
    """JOURNAL_DIR that cannot be written: an ERROR at start, a /readyz warning, and when the buffer
    is lost at shutdown an ERROR naming how many hits and a 'dropped' count."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    logger = logging.getLogger("service")
    logger.addHandler(caplog.handler)
    try:
        app = create_app({"REDIS_URL": redis_url, "ADMIN_TOKEN": ADMIN_TOKEN, "SITE_CACHE_SECONDS": 60,
                          "FLUSH_INTERVAL_MS": 10_000, "JOURNAL_DIR": str(blocker / "journal")})
        client = app.test_client()
        assert any("is not writable" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
        ready = client.get("/readyz").get_json()
        assert ready["status"] == "ready" and "not writable" in ready["warnings"][0]
        add_site(client)
        dropped = dropped_total(client)
        for n in range(7):
            assert hit(client, ip=f"10.6.0.{n}").status_code == 204
        assert app.extensions["recorder"].spill() is None
        assert any("7 hits lost" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
        assert dropped_total(client) - dropped == 7
    finally:
        logger.removeHandler(caplog.handler)



def test_journal_of_the_previous_version_still_replays(redis_url, tmp_path):
    """A journal line written by the version before (positional hits, no "v") replays."""
    journal = tmp_path / "journal"
    journal.mkdir()
    now_ms = int(time.time() * 1000)
    (journal / "journal-1-1.jsonl").write_text(
        '{"batch": "old1", "hits": [["travinh", "v1", "pageview", %d, "Asia/Ho_Chi_Minh", "c1"]]}\n' % now_ms)
    config = {"REDIS_URL": redis_url, "ADMIN_TOKEN": ADMIN_TOKEN, "COUNTERS_CACHE_SECONDS": 0,
              "FLUSH_INTERVAL_MS": 0, "JOURNAL_DIR": str(journal)}
    add_site(create_app({**config, "JOURNAL_DIR": str(tmp_path / "other")}).test_client())
    app = create_app(config)
    assert app.extensions["recorder"].flush(timeout_seconds=10)
    from .helpers import counters

    assert counters(app.test_client())["total"]["pageviews"] == 1
    assert not list(journal.glob("*.jsonl"))


def test_a_broken_journal_line_is_skipped_not_fatal(tmp_path):
    """A truncated or foreign line is logged and skipped; the rest of the file replays."""
    journal = tmp_path / "journal"
    journal.mkdir()
    (journal / "journal-1-2.jsonl").write_text('{"v": 2, "batch": "a", "hits": []}\n{"v": 2, "bat\n')
    claims = Journal(journal).claim()
    assert [len(c.batches) for c in claims] == [1]
    Journal.release(claims)
    assert not list(journal.iterdir())


PASSWORD = "pw-Left@pw-Right"
"""A password with an @ in it, as the URL forms below carry it: neither half may be shown."""


def password_forms(port: int) -> list[str]:
    """Every way a REDIS_URL can carry a password that redis-py or the store reads, to a closed port."""
    return [f"redis://user:{PASSWORD}@127.0.0.1:{port}/0", f"redis://:{PASSWORD}@127.0.0.1:{port}/0",
            f"redis://127.0.0.1:{port}/0?password={PASSWORD}", f"redis://127.0.0.1:{port}/0?db=0&password={PASSWORD}",
            f"rediss://:{PASSWORD}@127.0.0.1:{port}/0", f"redis+sentinel://:{PASSWORD}@127.0.0.1:{port}/mymaster",
            f"redis+sentinel://127.0.0.1:{port}/mymaster?password={PASSWORD}",
            f"redis+cluster://:{PASSWORD}@127.0.0.1:{port}", f"unix://:{PASSWORD}@/nonexistent/redis.sock",
            f"unix:///nonexistent/redis.sock?password={PASSWORD}"]


def assert_no_password(text: str) -> None:
    assert "pw-Left" not in text and "pw-Right" not in text, text[-3000:]


@pytest.mark.parametrize("environ", [
    {"SECRET_KEY": "short-pw-Left@pw-Right"},
    {"REDIS_URL": f"redis+sentinel://:{PASSWORD}@127.0.0.1:26379"},
    {"REDIS_URL": f"redis+sentinel://127.0.0.1:26379?password={PASSWORD}"},
    {"REDIS_URL": f"redis+sentinal://:{PASSWORD}@127.0.0.1:26379/mymaster"},
    {"REDIS_URL": f"redis:/127.0.0.1:6379/0?password={PASSWORD}"},
], ids=["short SECRET_KEY", "sentinel without master", "sentinel ?password=",
        "misspelt scheme", "malformed with ?password="])
def test_settings_errors_never_repeat_a_secret(environ):
    """A refused SECRET_KEY or REDIS_URL is named in the error without its secret."""
    from service.settings import Settings, SettingsError

    with pytest.raises(SettingsError) as failure:
        Settings.from_env(environ)
    assert next(iter(environ)) in str(failure.value)
    assert_no_password(str(failure.value))


def test_cli_and_app_start_never_show_a_redis_password(tmp_path):
    """The CLI's and the app's messages about an unreachable Redis show no password, in any REDIS_URL form."""
    script = Path(sys.executable).parent / "visitor-analytics"
    env = {**{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}, "PYTHONPATH": str(PROJECT),
           "REDIS_TIMEOUT_SECONDS": "0.2", "JOURNAL_DIR": str(tmp_path / "journal"), "ADMIN_TOKEN": ADMIN_TOKEN}
    forms = password_forms(free_port())
    said = []
    for url in forms:
        cli = subprocess.run([str(script), "sites", "list"], env={**env, "REDIS_URL": url}, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
        assert cli.returncode != 0
        said.append(cli.stdout + cli.stderr)
    # The app: start-up checks, a readiness probe, a hit kept while Redis is away, and shutdown.
    start = ("import os, sys\nfrom service import create_app\n"
             "for url in sys.argv[1:]:\n"
             "    os.environ['REDIS_URL'] = url\n"
             "    try:\n"
             "        app = create_app()\n"
             "    except Exception as exc:\n"
             "        print('start refused:', type(exc).__name__, file=sys.stderr)\n"
             "        continue\n"
             "    client = app.test_client()\n"
             "    sys.stderr.write(client.get('/readyz').get_data(as_text=True) + '\\n')\n"
             "    client.post('/api/v1/hit', data='{\"site\": \"x\", \"url\": \"https://x.vn/\"}')\n"
             "    app.extensions['recorder'].close(timeout_seconds=0.5)\n")
    app = subprocess.run([sys.executable, "-c", start, *forms], env={**env, "LOG_LEVEL": "DEBUG"}, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    said.append(app.stdout + app.stderr)
    assert "Redis" in said[0] and "unreachable" in app.stderr  # the messages are there, without the secret
    for text in said:
        assert_no_password(text)


PUBLIC = {"REMOTE_ADDR": "203.0.113.9"}
"""A reader on the internet, as the app sees one without a proxy."""


def test_readyz_tells_the_public_only_ready_or_not(app_config, admin_headers):
    """A public caller gets {"status": "ready"} or a 503 with a one-word reason; loopback and the operator's
    token get the details; behind a trusted proxy the reader's own address decides."""
    client = create_app({**app_config, "TRUSTED_PROXIES": 1}).test_client()
    assert client.get("/readyz", environ_base=PUBLIC).get_json() == {"status": "ready"}
    via_proxy = client.get("/readyz", headers={"X-Forwarded-For": "203.0.113.9"})  # nginx on loopback
    assert via_proxy.get_json() == {"status": "ready"}
    for details in (client.get("/readyz"), client.get("/readyz", environ_base=PUBLIC, headers=admin_headers),
                    client.get("/readyz", environ_base={"REMOTE_ADDR": "172.18.0.4"})):
        assert details.status_code == 200 and "buffered_hits" in details.get_json() and "durability" in details.get_json()

    dead = create_app({**app_config, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "REDIS_TIMEOUT_SECONDS": 0.1})
    down = dead.test_client()
    public = down.get("/readyz", environ_base=PUBLIC)
    assert public.status_code == 503
    assert public.get_json() == {"status": "unready", "reason": "redis",
                                 "error": {"code": "unready", "message": "not ready (redis)"}}
    operator = down.get("/readyz")
    assert operator.status_code == 503 and operator.get_json()["error"]["code"] == "redis_unavailable"
    assert "buffered_hits" in operator.get_json()
    dead.extensions["recorder"].close(timeout_seconds=0.5)


@pytest.mark.parametrize(("environ", "headers", "config", "status"), [
    ({"REMOTE_ADDR": "127.0.0.1"}, {}, {}, 200),
    ({"REMOTE_ADDR": "::1"}, {}, {}, 200),
    ({"REMOTE_ADDR": "172.18.0.5"}, {}, {}, 200),  # compose's Prometheus, on the compose network
    (PUBLIC, {}, {}, 403),
    ({"REMOTE_ADDR": "2001:db8::1"}, {}, {}, 403),
    (PUBLIC, {"Authorization": f"Bearer {ADMIN_TOKEN}"}, {}, 200),
    (PUBLIC, {"Authorization": "Bearer wrong-token"}, {}, 403),
    ({"REMOTE_ADDR": "172.18.0.3"}, {"X-Forwarded-For": "203.0.113.9"}, {"TRUSTED_PROXIES": 1}, 403),  # via nginx
    ({"REMOTE_ADDR": "127.0.0.1"}, {}, {"METRICS_ALLOW": "10.20.0.0/16"}, 403),
    ({"REMOTE_ADDR": "10.20.3.4"}, {}, {"METRICS_ALLOW": "10.20.0.0/16"}, 200),
], ids=["loopback", "loopback v6", "compose network", "internet", "internet v6", "internet with token",
        "internet with a wrong token", "internet through a trusted proxy", "outside a narrowed list",
        "inside a narrowed list"])
def test_metrics_are_served_to_the_metrics_network_only(app_config, environ, headers, config, status):
    """/metrics answers the METRICS_ALLOW networks and the operator's token, and a 403 to anyone else."""
    client = create_app({**app_config, **config}).test_client()
    response = client.get("/metrics", environ_base=environ, headers=headers)
    assert response.status_code == status
    if status == 403:
        assert response.get_json()["error"]["code"] == "forbidden" and b"va_hits_total" not in response.data
    else:
        assert b"va_hits_total" in response.data


def test_plain_gunicorn_from_another_folder_logs_no_client_address(redis_url, tmp_path):
    """`gunicorn 'service:create_app()'` started from / with no config: malformed requests from a
    distinctive loopback address leave gunicorn's warnings in the log without that address."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {**plain_env(redis_url, tmp_path, port), "PYTHONPATH": str(PROJECT)}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "service:create_app()"],
                               cwd="/", env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    client = "127.0.0.3"  # the malformed requests come from here: any 127/8 address is loopback
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", process, log)
        for garbage in (b"GARBAGE\r\n\r\n", b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n",
                        b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n",
                        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(client, 0)) as sock:
                sock.sendall(garbage)
                assert sock.recv(1024).startswith(b"HTTP/1.1 4")
        request(f"http://127.0.0.1:{port}/healthz")
    finally:
        stop(process)
    text = log.read_text()
    assert text.count("Invalid request from ip=<hidden>") == 5, text[-3000:]
    assert client not in text and "ip=127.0.0.1" not in text, text[-3000:]
