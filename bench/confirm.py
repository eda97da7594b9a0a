"""What confirming a batch costs with Sentinel: record_hits with and without WAIT, measured.

    .venv/bin/python bench/confirm.py [--batches 400]

Starts a master, its replica and one sentinel on 127.0.0.1 (stopped by PID at the end), writes
batches of 1, 20 and 500 hits (new visitors, one site) through ``CounterStore.record_hits`` over
``redis+sentinel://`` with CONFIRM_REPLICAS=0 and 1, alternating rounds so both see the same machine
load, and prints the median time per batch and per hit (wall time of the round trip, in-process).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402

from service.model.hits import Hit  # noqa: E402
from service.model.sites import Site  # noqa: E402
from service.ops.redis_process import RedisProcess, free_port, server_binary  # noqa: E402
from service.storage import CounterStore, Limits  # noqa: E402

LIMITS = Limits(online_window_seconds=300, visit_timeout_seconds=1800, visitor_hits_per_minute=1_000_000)


def hits(count: int) -> list[Hit]:
    now = datetime.now(timezone.utc)
    return [Hit("bench", secrets.token_hex(16), "pageview", now, "Asia/Ho_Chi_Minh", page="/a") for _ in range(count)]


def batch_ms(store: CounterStore, size: int, batches: int) -> float:
    """Median ms per record_hits call of ``size`` hits."""
    times = []
    for _ in range(batches):
        batch = hits(size)
        started = time.perf_counter()
        store.record_hits(batch, secrets.token_hex(8))
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=400, help="batches per size, mode and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="va-confirm-") as tmp:
        base = Path(tmp)
        master = RedisProcess(base / "master", appendonly=False).start()
        replica = RedisProcess(base / "replica", appendonly=False,
                               extra_args=("--replicaof", "127.0.0.1", str(master.port))).start()
        port = free_port()
        (base / "sentinel.conf").write_text(f"port {port}\nbind 127.0.0.1\ndir {base}\n"
                                            f"sentinel monitor bench 127.0.0.1 {master.port} 1\n")
        sentinel = subprocess.Popen([server_binary("redis"), str(base / "sentinel.conf"), "--sentinel"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            probe = redis.Redis(port=port)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if probe.sentinel_master("bench")["num-slaves"] >= 1 and redis.Redis(port=replica.port).info(
                            "replication")["master_link_status"] == "up":
                        break
                except redis.RedisError:
                    pass
                time.sleep(0.1)
            stores = {}
            for confirm in (0, 1):
                store = CounterStore.from_url(f"redis+sentinel://127.0.0.1:{port}/bench", LIMITS, timeout_seconds=1)
                store.confirm_replicas = confirm
                stores[confirm] = store
            stores[0].put_site(Site("bench", ("bench.example.vn",), "Asia/Ho_Chi_Minh"))
            results: dict[tuple[int, int], list[float]] = {}
            for _ in range(args.rounds):
                for size in (1, 20, 500):
                    for confirm, store in stores.items():
                        n = args.batches if size < 500 else max(20, args.batches // 10)
                        results.setdefault((size, confirm), []).append(batch_ms(store, size, n))
            print("| hits per batch | without WAIT, ms per batch | with WAIT 1, ms per batch | "
                  "confirmation, ms per batch | confirmation, µs per hit |")
            print("|---|---|---|---|---|")
            for size in (1, 20, 500):
                plain = statistics.median(results[(size, 0)])
                waited = statistics.median(results[(size, 1)])
                print(f"| {size} | {plain:.3f} | {waited:.3f} | {waited - plain:+.3f} | "
                      f"{(waited - plain) * 1000 / size:+.1f} |")
            print(f"\nSentinel asked at most once a second per process (MASTER_CHECK_SECONDS): "
                  f"{round(stores[1].sentinel.check_seconds, 1)} s; nproc {os.cpu_count()}, "
                  f"load average {os.getloadavg()[0]:.1f}")
        finally:
            sentinel.send_signal(signal.SIGTERM)
            sentinel.wait(10)
            replica.stop()
            master.stop()


if __name__ == "__main__":
    main()
