"""Parse an incoming page hit (JSON body or pixel query) into a validated Beacon."""

from __future__ import annotations

import functools
import json
import re
from typing import NamedTuple
from urllib.parse import urlsplit

from ..errors import BadRequest, BodyTooLarge, UnsupportedMediaType
from ..model.page_urls import clean_title
from ..model.sites import normalize_host, valid_site_id

MAX_BODY_BYTES = 4096
MAX_URL_CHARS = 2048
KINDS = ("pageview", "ping")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
"""Refused in a URL: controls, and lone surrogates (JSON's "\\ud800" decodes to one; it is no text)."""
PLAIN_URL = re.compile(r"(?i)https?://([a-z0-9.-]+)(?::([0-9]{1,5}))?(?=[/?#]|\Z)")
"""The common page URL (scheme, plain host, maybe a port): its host is read without urlsplit."""
JSON_TYPES = ("", "text/plain", "application/json", "application/x-www-form-urlencoded")
"""Content types a hit's JSON body may arrive with: sendBeacon sends text/plain (no CORS
preflight), fetch may send application/json, and curl -d or urllib default to form encoding."""


class Beacon(NamedTuple):
    """What a page told us: which site, which page, and whether it is a view or a ping (a named
    tuple, like the other values of the hit's path: service/model/hits.py)."""

    site: str
    url: str
    host: str
    kind: str = "pageview"
    referrer: str | None = None
    title: str = ""

    @classmethod
    def from_post(cls, environ: dict) -> Beacon:
        """Read a ``POST /api/v1/hit`` body (JSON sent as text/plain or application/json).

        Straight from the WSGI environ: the hit is the hottest route, and werkzeug's request
        properties cost more than the whole parse.
        """
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if mimetype not in JSON_TYPES:
            raise UnsupportedMediaType("send the hit as JSON with Content-Type text/plain or application/json")
        return from_body(read_body(environ, MAX_BODY_BYTES))

    @classmethod
    def from_query(cls, args) -> Beacon:
        """Read a ``GET /api/v1/hit.gif`` query string."""
        return cls.from_fields(args.get("site"), args.get("url"), args.get("ref"), args.get("type"),
                               args.get("title"))

    @classmethod
    def from_fields(cls, site, url, referrer, kind, title=None) -> Beacon:
        if not valid_site_id(site):
            raise BadRequest("site must match [a-z0-9][a-z0-9-]{0,62}")
        host = page_host(url)
        if referrer is not None and (not isinstance(referrer, str) or len(referrer) > MAX_URL_CHARS):
            raise BadRequest(f"referrer must be a string of at most {MAX_URL_CHARS} characters")
        kind = "pageview" if kind is None else kind
        if kind not in KINDS:
            raise BadRequest("type must be 'pageview' or 'ping'")
        if title is not None and not isinstance(title, str):
            raise BadRequest("title must be a string (document.title)")
        return cls(site=site, url=url, host=host, kind=kind, referrer=referrer or None,
                   title=clean_title(title))


@functools.lru_cache(maxsize=2048)  # at most 2048 bodies of <= 4 KiB a worker (8 MiB); ~200 B each usually
def from_body(raw: bytes) -> Beacon:
    """The Beacon of a hit's JSON body. Cached: every reader of a page sends the very same bytes
    (site, URL, title), so a popular page is parsed once; a bad body raises, and is not kept."""
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return Beacon.from_fields(body.get("site"), body.get("url"), body.get("referrer"), body.get("type"),
                              body.get("title"))


def parse_json(raw: bytes) -> object:
    """Decode a UTF-8 JSON body, or BadRequest (also for nesting deep enough to exhaust the stack)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("body is not valid UTF-8 JSON") from None


def read_body(environ: dict, limit: int) -> bytes:
    """The request body, or BodyTooLarge past ``limit`` bytes (before reading, when announced).

    Without a Content-Length the body is read only when the server ends the stream itself
    (``wsgi.input_terminated``, as gunicorn does for chunked bodies), one byte past the limit.
    """
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            size = int(length)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if size > limit:
            raise BodyTooLarge(f"a hit body is at most {limit} bytes")
    elif environ.get("wsgi.input_terminated"):
        size = limit + 1
    else:
        return b""
    raw = read_at_most(environ["wsgi.input"], max(size, 0))
    if len(raw) > limit:
        raise BodyTooLarge(f"a hit body is at most {limit} bytes")
    return raw


def read_at_most(stream, limit: int) -> bytes:
    """Read until end of body or ``limit`` bytes (a stream read may return less than asked)."""
    chunks, size = [], 0
    while size < limit:
        chunk = stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def page_host(url: object) -> str:
    """The normalized host of an absolute http(s) page URL, or BadRequest."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        raise BadRequest(f"url must be an absolute http(s) URL of at most {MAX_URL_CHARS} characters")
    if CONTROL_CHARACTERS.search(url):
        raise BadRequest("url contains control characters or broken text (a lone UTF-16 surrogate)")
    plain = PLAIN_URL.match(url)
    hostname = plain[1].lower() if plain and int(plain[2] or 0) <= 65535 else _hostname(url)
    host = normalize_host(hostname)
    if host is None:
        raise BadRequest("url has an invalid host name")
    return host


def _hostname(url: str) -> str:
    """The host part of any other URL, the slow and thorough way (user info, IPv6, odd ports)."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # raises ValueError on a bad port
    except ValueError:
        raise BadRequest("url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise BadRequest("url must be an absolute http(s) URL")
    if "[" in parts.netloc and ":" not in hostname:  # [v1.x]: an IPvFuture literal, not a host
        raise BadRequest("url has an invalid host name")
    return hostname
