"""Kept for deployed commands that name it (`gunicorn -c python:service.gunicorn_config`): the
settings live in service/ops/gunicorn_config.py."""

from service.ops.gunicorn_config import *  # noqa: F401,F403
