"""Run Debian's nginx with the shipped deploy/nginx files, rendered for loopback, from a temp dir.

The shipped files are rendered the way the official image does it (envsubst of the VA_ variables)
and then changed only where a test run must differ from a container: the upstream line (a literal
address: Debian's nginx 1.22 has no "resolve"), the listen ports, the log and certificate folders.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

from .conftest import ADMIN_TOKEN, CHROME

ROOT = Path(__file__).resolve().parent.parent
NGINX_DIR = ROOT / "deploy" / "nginx"
NOBODY = "192.0.2.1"
"""A trusted-proxy address no test connects from (TEST-NET-1): no outer proxy, as compose's
default (127.0.0.1 inside the nginx container) means."""


def envsubst(text: str, values: dict[str, str]) -> str:
    """Replace $NAME and ${NAME} of the named variables, as the image's 20-envsubst-on-templates.sh
    does (GNU envsubst, given the VA_ names); fail if a ${...} is left."""
    for name, value in values.items():
        text = re.sub(rf"\$(?:\{{{name}\}}|{name}(?![A-Za-z0-9_]))", lambda _: value, text)
    assert "${" not in text, "a ${VA_...} variable the test did not set"
    return text


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def write_shipped(folder: Path, upstream: str, port: int, tls_port: int | None = None,
                  trusted_proxy: str = NOBODY, redirect_to_https: str = "0") -> list[str]:
    """Write the shipped default.conf (and tls.conf) and site rules into ``folder``; answer the files
    nginx.conf must include."""
    template = (NGINX_DIR / "visitor-analytics.conf").read_text()
    default = envsubst(template, {"VA_TRUSTED_PROXY": trusted_proxy, "VA_REDIRECT_TO_HTTPS": redirect_to_https})
    default = replace_once(default, "server app:8000 resolve;", f"server {upstream};")
    default = replace_once(default, "listen 8080;", f"listen 127.0.0.1:{port};")
    (folder / "default.conf").write_text(default)
    site = (NGINX_DIR / "visitor-analytics-site.conf").read_text().replace("/var/log/nginx/", f"{folder}/")
    (folder / "visitor-analytics-site.conf").write_text(site)
    included = ["default.conf"]
    if tls_port is not None:
        tls = replace_once((NGINX_DIR / "visitor-analytics-tls.conf").read_text(), "listen 8443 ssl;",
                           f"listen 127.0.0.1:{tls_port} ssl;")
        (folder / "tls.conf").write_text(tls.replace("/etc/nginx/tls/", f"{folder / 'tls'}/"))
        included.append("tls.conf")
    return included


def write_portal(folder: Path, upstream: str, port: int, prefix: str = "/thong-ke/") -> list[str]:
    """A portal's nginx serving the service under ``prefix`` with the shipped proxy rules (README)."""
    shutil.copy(NGINX_DIR / "visitor-analytics-proxy.conf", folder)
    (folder / "portal.conf").write_text(f"""\
server {{
    listen 127.0.0.1:{port};
    access_log off;
    location {prefix} {{
        proxy_pass http://{upstream}/;
        include visitor-analytics-proxy.conf;
    }}
}}
""")
    return ["portal.conf"]


def start_nginx(folder: Path, included: list[str], ports: list[int]) -> subprocess.Popen:
    """Run Debian's nginx in the foreground from ``folder``; answer once every port accepts connections."""
    # What the official image's nginx.conf gives the conf.d files, with every path in the temp dir.
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                             "uwsgi", "scgi"))
    includes = "\n".join(f"    include {name};" for name in included)
    (folder / "nginx.conf").write_text(f"""\
user root;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} notice;
events {{ worker_connections 256; }}
http {{
    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" '
                    '"$http_user_agent" "$http_x_forwarded_for"';
    access_log {folder / "image-access.log"} main;
{temp}
{includes}
}}
""")
    process = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(folder), "-c",
                                str(folder / "nginx.conf"), "-e", str(folder / "error.log"), "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    waiting = list(ports)
    while waiting and time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", waiting[0]), timeout=1).close()
            waiting.pop(0)
        except OSError:
            time.sleep(0.05)
    if waiting:
        process.kill()
        process.wait()
        raise RuntimeError("nginx did not start: " + process.stderr.read().decode(errors="replace"))
    return process


def stop(process: subprocess.Popen, signum: int = signal.SIGTERM) -> None:
    """Stop one process we started, by its PID, and reap it."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def self_signed_certificate(folder: Path, name: str) -> Path:
    """A self-signed certificate for ``name`` and 127.0.0.1 (openssl CLI) as fullchain.pem and
    privkey.pem in ``folder``; answer the certificate's path (the client's only trusted CA)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name},IP:127.0.0.1",
                    "-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem")],
                   check=True, capture_output=True)
    return folder / "fullchain.pem"


class Stack:
    """nginx on loopback ports, in front of gunicorn on another."""

    def __init__(self, nginx_port: int, app_port: int, reader, logs: Path, tls_port: int | None = None,
                 ca: Path | None = None, host: str = "stats.example"):
        self.nginx_port, self.app_port, self.tls_port = nginx_port, app_port, tls_port
        self.logs = logs  # nginx's folder: access.log (the shipped format), image-access.log (the image's)
        self.reader = reader  # an uncached app on the same Redis: gunicorn's cache keeps answers 5 s
        self.ca, self.host = ca, host

    def send(self, method, path, body=None, headers=None, direct=False, tls=False, source="127.0.0.1"):
        """One request through nginx (or straight to gunicorn), from loopback address ``source``:
        (status, headers, body)."""
        headers = {"Host": self.host, **(headers or {})}
        if tls:
            context = ssl.create_default_context(cafile=str(self.ca))
            connection = http.client.HTTPSConnection("127.0.0.1", self.tls_port, timeout=10, context=context,
                                                     source_address=(source, 0))
        else:
            port = self.app_port if direct else self.nginx_port
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def add_site(self, site: str, **options) -> None:
        status, _, body = self.send("PUT", f"/api/v1/sites/{site}", json.dumps({"domains": ["travinh.gov.vn"]}),
                                    {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
                                    **options)
        assert status in (200, 201), body

    def hit(self, site: str, forwarded_for: str | None = None, direct=False, **options) -> int:
        headers = {"User-Agent": CHROME, "Content-Type": "text/plain", **options.pop("headers", {})}
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        body = json.dumps({"site": site, "url": "https://travinh.gov.vn/tin-tuc/abc"})
        return self.send("POST", "/api/v1/hit", body, headers, direct=direct, **options)[0]

    def counters(self, site: str, pageviews: int) -> dict:
        """The site's counters once ``pageviews`` landed, read again after a few flush intervals."""
        read = lambda: self.reader.get(f"/api/v1/sites/{site}/counters").get_json()  # noqa: E731
        deadline = time.monotonic() + 10
        while read()["total"]["pageviews"] < pageviews and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # a hit that should not have counted would land within a few 20 ms flushes
        return read()
