"""A full JOURNAL_DIR seen before it matters: /readyz warns with the room left, and a spill that
runs out of room keeps its whole lines, leaves no partial file, and logs and counts the rest."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import redis

from service.ingest.journal import HIT_BYTES_BOUND, decode_line, encode
from service.model.hits import Hit
from service.ops.redis_process import RedisProcess, free_port

from .conftest import ADMIN_TOKEN, CHROME
from .servers import request, stop_process, wait_for

DISK_BYTES = 16 * 1024
"""The small file system's size: room for a few dozen hits."""


@pytest.fixture
def small_disk(tmp_path):
    """A real 16 KiB tmpfs mounted on a folder of this test (root, or passwordless sudo), unmounted after."""
    folder = tmp_path / "journal"
    folder.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0777", "tmpfs", str(folder)]
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    done = subprocess.run(sudo + command, capture_output=True, text=True)
    if done.returncode:
        pytest.fail(f"cannot mount a small tmpfs (needs root or passwordless sudo): {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(sudo + ["umount", str(folder)], check=True)


@pytest.fixture
def own_redis(tmp_path):
    server = RedisProcess(tmp_path / "redis", appendonly=True).start()
    yield server
    server.stop()


def send_hit(base: str, n: int) -> tuple[int, str | None]:
    """One hit of a new visitor; answer its status and X-Not-Counted."""
    import urllib.request

    body = json.dumps({"site": "travinh", "url": "https://travinh.gov.vn/tin-tuc/bai-viet"}).encode()
    agent = CHROME.replace("131.0.0.0", f"131.{n // 250}.0.{n % 250}")
    req = urllib.request.Request(base + "/api/v1/hit", data=body,
                                 headers={"User-Agent": agent, "Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=10) as response:
        return response.status, response.headers.get("X-Not-Counted")


def test_the_worst_hit_fits_the_bound():
    """A hit with every field at its longest (astral title, long page, link and hosts) fits HIT_BYTES_BOUND."""
    hit = Hit(site="a" * 63, visitor="f" * 64, kind="pageview", at=datetime.now(timezone.utc),
              timezone="America/Argentina/ComodRivadavia", client="c" * 64, day=date.today(),
              unchecked_hosts=("h" * 253, "o" * 253), page="/" + "%E1" * 170, title="\U0001F600" * 200,
              link="/" + "%E1" * 170)
    assert len(json.dumps(encode(hit))) + 1 <= HIT_BYTES_BOUND


def test_full_journal_is_announced_and_a_spill_keeps_what_fits(small_disk, own_redis, tmp_path, gunicorn_processes):
    """/readyz names the small folder and its room; a spill past it leaves whole lines that replay, no .tmp."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    service = gunicorn_processes(own_redis.url, tmp_path / "one", port, JOURNAL_DIR=str(small_disk),
                                 MAX_BUFFERED_HITS="100")
    status, _ = request(f"{base}/api/v1/sites/travinh", json.dumps({"domains": ["travinh.gov.vn"]}).encode(),
                        {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}, "PUT")
    assert status == 201
    ready = json.loads(request(base + "/readyz")[1])
    warning = " ".join(ready["warnings"])
    assert str(small_disk) in warning and "free" in warning, ready

    own_redis.stop()
    answers = [send_hit(base, n) for n in range(150)]
    buffered = sum(1 for status, reason in answers if status == 204 and reason is None)
    assert buffered >= 100  # more than the 16 KiB can hold
    stop_process(service)
    log = (tmp_path / "one" / f"gunicorn-{port}.log").read_text()

    assert not list(small_disk.glob("*.tmp")), "a partial spill was left behind"
    kept = sum(len(decode_line(line)[1]) for path in small_disk.glob("journal-*.jsonl")
               for line in path.read_text().splitlines())
    lost = sum(json.loads(line).get("lost_hits", 0) for line in log.splitlines() if line.startswith("{"))
    print(f"\n{buffered} hits buffered, {kept} kept in the journal, {lost} logged lost")
    assert kept > 0 and lost > 0 and kept + lost == buffered

    own_redis.start()
    gunicorn_processes(own_redis.url, tmp_path / "two", free_port(), JOURNAL_DIR=str(small_disk))
    pageviews = lambda: int(redis.Redis(port=own_redis.port).hget("va:{travinh}:tot", "pageviews") or 0)  # noqa: E731
    assert wait_for(lambda: pageviews() >= kept and not list(small_disk.glob("*.jsonl")), 20)
    assert pageviews() == kept
