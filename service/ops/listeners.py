"""How gunicorn listens: a SO_REUSEPORT socket per worker where that works, and a refusal to start
on an address something already listens on (with reuse_port it would share the traffic silently).

A worker whose master dies (SIGKILL, OOM killer) is told at once (the kernel's parent-death
signal, SIGTERM) and closes its listeners before it finishes its in-flight requests and writes or
spills its buffered hits: a restart can listen again within a second instead of the graceful timeout.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import signal
import socket
import sys
import time

from gunicorn import util

BIND_ATTEMPTS = 5
"""Tries, a second apart, before an address in use stops the start (what gunicorn's own bind does)."""

EXIT_CANNOT_LISTEN = 1
"""The master's exit code when it cannot listen: gunicorn's own, without reuse_port."""


def shared_socket_reason(server) -> str | None:
    """Why these addresses need gunicorn's one socket shared by the workers, if they do."""
    for address in server.cfg.address:
        if isinstance(address, int):
            return f"fd://{address} is a socket handed over already"
        if isinstance(address, str):
            return f"unix:{address}: each worker would replace the socket file of the one before"
        if address[1] == 0:
            return "port 0: each worker would listen on a port of its own"
    if os.environ.get("LISTEN_PID") == str(os.getpid()) or os.environ.get("GUNICORN_FD"):
        return "the sockets are handed over already (systemd, or the old master on USR2)"
    return None


def per_worker(cfg) -> bool:
    """Whether each worker binds a socket of its own (gunicorn's test: reuse_port, where the OS has it)."""
    return cfg.reuse_port and hasattr(socket, "SO_REUSEPORT")


def choose_sockets(server) -> None:
    """Keep gunicorn's shared socket where a socket per worker makes no sense (call before it binds)."""
    reason = per_worker(server.cfg) and shared_socket_reason(server)
    if reason:
        server.cfg.set("reuse_port", False)
        server.log.info("reuse_port off, the workers share one socket: %s", reason)


def bind_error(address: tuple) -> OSError | None:
    """What binding ``address`` without SO_REUSEPORT fails with (EADDRINUSE: a socket listens on it)."""
    family = socket.AF_INET6 if util.is_ipv6(address[0]) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As gunicorn binds: connections of a stopped instance in TIME_WAIT are no conflict, a listener is.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc
    return None


def url(address: tuple, scheme: str = "http") -> str:
    host, port = address[:2]
    return f"{scheme}://[{host}]:{port}" if util.is_ipv6(host) else f"{scheme}://{host}:{port}"


def lasting_bind_error(address: tuple, log: logging.Logger | None = None) -> OSError | None:
    """``bind_error``, an address in use tried again for a few seconds (an old instance may be exiting)."""
    for attempt in range(1, BIND_ATTEMPTS + 1):
        error = bind_error(address)
        if error is None or error.errno != errno.EADDRINUSE or attempt == BIND_ATTEMPTS:
            if error is None and attempt > 1 and log:
                log.info("%s is free now: starting", url(address))
            return error
        if attempt == 1 and log:
            log.warning("%s is in use: waiting up to %d s for it (the workers of a stopped instance closing?)",
                        url(address), BIND_ATTEMPTS - 1)
        time.sleep(1)


def refuse_if_taken(server) -> None:
    """Halt the master when it cannot listen on its addresses alone (with reuse_port, workers bind later)."""
    if not per_worker(server.cfg) or server.master_pid:
        return  # gunicorn binds (and fails) itself, or a USR2 successor shares the port on purpose
    for address in server.cfg.address:
        error = lasting_bind_error(address, server.log)
        if error is None:
            continue
        if error.errno == errno.EADDRINUSE:
            server.log.error("Refusing to start: something already listens on %s (another instance, or an old "
                             "one still running?); with reuse_port both would share the traffic. Stop it, or "
                             "set BIND to a free address.", url(address))
        else:
            server.log.error("Refusing to start: cannot listen on %s: %s", url(address), error)
        server.halt(str(error), EXIT_CANNOT_LISTEN)


def log_addresses(server) -> None:
    """Name the addresses gunicorn's "Listening at:" line leaves empty when every worker binds its own."""
    if per_worker(server.cfg):
        scheme = "https" if server.cfg.is_ssl else "http"
        server.log.info("Listening at: %s (a SO_REUSEPORT socket in each worker)",
                        ",".join(url(address, scheme) for address in server.cfg.address))


PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal the kernel sends this process when its parent dies."""


def die_with_master(worker) -> None:
    """In a new worker: stop accepting at once when the master dies, then finish and exit as on SIGTERM.

    gunicorn's own check (the parent's PID, once a loop) stops accepting within a second but keeps
    the listening sockets open through the graceful timeout: with reuse_port the kernel still queues
    connections on them, which nobody accepts, and a new instance cannot bind the address.
    """
    stop = worker.handle_exit

    def handle_exit(signum, frame):
        stop(signum, frame)
        if os.getppid() != worker.ppid:
            worker.log.warning("the gunicorn master (pid %s) is gone: worker %s stops accepting, finishes "
                               "its requests and writes its buffered hits", worker.ppid, worker.pid)
        close_listeners(worker)

    worker.handle_exit = handle_exit  # read by init_signals, which runs after post_fork
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # without it, gunicorn's own parent check still stops the worker
    if os.getppid() != worker.ppid:  # the master died before prctl: no signal will come
        worker.alive = False


def close_listeners(worker) -> None:
    """Close a stopping worker's listening sockets now, not after the graceful timeout (new
    connections go to the other workers, or are refused at once, instead of waiting in a backlog
    nobody accepts from)."""
    for listener in worker.sockets:
        try:
            listener.close()
        except OSError:
            pass
