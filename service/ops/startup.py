"""Start-up checks: say loudly what will stop hits from counting, and what would make /metrics wrong."""

from __future__ import annotations

import logging
import os
import shlex
import sys

from ..errors import RedisReplyError, StorageUnavailable


def check_redis(store, journal) -> None:
    """Say loudly at start what will stop hits from counting (no crash: Redis may be down now)."""

    log = logging.getLogger("service.startup")
    if problem := journal.problem():
        log.error(problem)
    try:
        for _, message in store.server_problems():
            log.error("%s: hits are buffered, not counted, until this is fixed", message)
        durability = store.durability()
        if store.ensure_site_index():  # the first start after an upgrade: the sites list's index
            log.warning("rebuilt the sites list's index from the registered sites")
    except StorageUnavailable:
        log.warning("Redis unreachable at start: hits are buffered until it answers")
        return
    except RedisReplyError:
        return  # logged at ERROR by the store
    for message in durability.errors:
        log.error(message)
    for message in durability.warnings:
        log.warning(message)


def warn_if_metrics_per_worker() -> None:
    """Under gunicorn with several workers, /metrics needs the shared folder: say so if missing."""
    if "gunicorn" not in sys.modules or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    workers = launch_workers()
    if workers != 1:
        logging.getLogger("service.startup").warning(
            "gunicorn runs %s workers without PROMETHEUS_MULTIPROC_DIR: /metrics answers one worker's "
            "numbers. Start gunicorn from the project folder (it reads gunicorn.conf.py) or with "
            "-c python:service.gunicorn_config.", workers if workers else "several")


def launch_workers() -> int | None:
    """How many workers the running gunicorn was started with (its own parser reads its argv)."""
    from gunicorn.config import Config

    try:
        argv = shlex.split(os.environ.get("GUNICORN_CMD_ARGS", "")) + sys.argv[1:]
        args, _ = Config().parser().parse_known_args(argv)
    except (SystemExit, ValueError):
        return None
    return args.workers or int(os.environ.get("WEB_CONCURRENCY", "1") or 1)


def gunicorn_workers() -> int:
    """Workers of the running gunicorn (their buffers spill into one JOURNAL_DIR), else 1."""
    if "gunicorn" not in sys.modules:
        return 1
    return launch_workers() or 1
