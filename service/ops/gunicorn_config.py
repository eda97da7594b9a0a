"""gunicorn settings shared by `visitor-analytics serve`, the Docker image, the tests and plain
`gunicorn 'service:create_app()'` started in the project folder (gunicorn.conf.py imports this)."""

import os
import shutil
import tempfile

from gunicorn.glogging import Logger

from . import listeners

# Metrics from every worker are summed through files in this folder (prometheus_client
# multiprocess mode). It must be set before any worker imports prometheus_client.
_OWN_METRICS_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
"""True when the folder is ours, made here, and removed again when gunicorn exits."""
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="va-metrics-")

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gthread: a slow or idle keep-alive client holds one thread, not a whole worker.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A SO_REUSEPORT socket in each worker: the kernel spreads new connections over the workers. From
# one shared socket, a burst of keep-alive connections (nginx's upstream pool, wrk) often all went
# to whichever worker woke first, and the other idled: half the req/s. on_starting refuses an
# address something already listens on, which would otherwise share the traffic without a word.
if os.environ.get("GUNICORN_REUSE_PORT", "1") not in ("0", "1"):
    raise ValueError("GUNICORN_REUSE_PORT must be 0 or 1")
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "1") == "1"
timeout = 30             # seconds a worker may be silent before it is restarted
graceful_timeout = 20    # seconds to finish in-flight requests (and flush buffered hits) on SIGTERM
keepalive = 5            # seconds an idle keep-alive connection stays open
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
accesslog = None         # the app logs requests itself (ACCESS_LOG=1), as JSON, without addresses
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn's own lines (start, worker boot/exit, timeouts) as JSON too, like the app's.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "pythonjsonlogger.json.JsonFormatter",
                            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                            "rename_fields": {"levelname": "level", "asctime": "time"}}},
    # No client address ("Invalid request from ip=...") and no password in a URL, ever.
    "filters": {"redact": {"()": "service.ops.redact.RedactFilter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr",
                            "filters": ["redact"]}},
    "root": {"level": "WARNING", "handlers": ["stderr"]},
    "loggers": {"gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(), "propagate": False},
                "gunicorn.access": {"handlers": [], "propagate": False}},
}
proc_name = "visitor-analytics"
# gunicorn 23+ opens a control socket in $HOME: several instances on one host would share it,
# and the image's user has no home. Nothing here uses it.
control_socket_disable = True


class JsonLogger(Logger):
    """gunicorn's logger without access logging: with a logconfig_dict set, gunicorn would
    otherwise build an access-log record for every request (5-12 % of a hit, bench/)."""

    def access(self, resp, req, environ, request_time):
        pass


logger_class = JsonLogger


def on_starting(server):
    """Refuse an address already listened on; start from an empty metrics folder (numbers of a
    previous run must not leak in)."""
    listeners.choose_sockets(server)
    listeners.refuse_if_taken(server)
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)


def when_ready(server):
    """Log the addresses the workers will listen at (gunicorn's "Listening at:" is empty with reuse_port)."""
    listeners.log_addresses(server)


def on_reload(server):
    """Reloading the config (SIGHUP) sets reuse_port again: keep the shared socket where it is needed."""
    listeners.choose_sockets(server)


def on_exit(server):
    """Remove the metrics folder made for this run (a folder set by the operator stays)."""
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def post_fork(server, worker):
    """In the new worker: if the master dies, stop accepting at once and finish (listeners.die_with_master)."""
    listeners.die_with_master(worker)


def child_exit(server, worker):
    """Let prometheus_client drop the live gauges of a worker that exited."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
