"""A page of a site: a page URL (or a raw path) normalized into the one key its views count under.

The rule, in order (docs/pages.md documents it for webmasters):

1. scheme, host, port and ``#fragment`` are dropped (the site's domains already decided);
2. the query string is dropped, except the parameters named in the site's ``page_params``
   (``?id=1234``, ``?ItemID=56``): kept, named as the site spells them, sorted by name then
   value, empty values dropped; query strings carry emails and tokens, so none by default;
3. percent-encoding is normalized: escapes of letters, digits and ``-._~!$&'()*+,;=:@`` and
   of valid UTF-8 are decoded (``/tin-t%E1%BB%A9c`` is ``/tin-tức``), NFC; everything else
   (``/``, ``?``, ``#``, ``%``, spaces, controls, invalid UTF-8) is percent-encoded, upper-case;
4. ``.`` and ``..`` segments are resolved, repeated slashes merged;
5. letter case is folded to lower case (portals on IIS and SharePoint answer ``/Tin-Tuc`` and
   ``/tin-tuc`` alike; query values keep their case);
6. a final ``index.html``, ``index.htm``, ``index.php``, ``default.aspx`` or ``default.asp``
   and a trailing slash are dropped (``/tin-tuc/`` and ``/tin-tuc/index.html`` are ``/tin-tuc``;
   the root stays ``/``);
7. the result is cut at 512 characters (never inside an escape).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from urllib.parse import parse_qsl, quote, urlsplit

MAX_PATH_CHARS = 512
"""Longest page key; longer paths are cut here."""
MAX_TITLE_CHARS = 200
"""Longest title kept (the beacon sends document.title)."""
MAX_PAGE_PARAMS = 20
PAGE_PARAM = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")
INDEX_FILES = frozenset({"index.html", "index.htm", "index.php", "default.aspx", "default.asp"})
PATH_SAFE = "-._~!$&'()*+,;=:@"
"""ASCII characters a path keeps as they are (RFC 3986 pchar, less the escapes)."""
ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")


CACHED_URL_CHARS = 512
"""Page URLs longer than this are normalized afresh each time, never cached: the caches below are
bounded in entries, and 16,384 invented URLs of 2,048 characters held 46 MiB a worker in them."""


def page_key(url_or_path: str, page_params: tuple[str, ...] = ()) -> str:
    """The normalized page of a page URL or a raw path (``/a?id=2``), by the module's rule."""
    if len(url_or_path) > CACHED_URL_CHARS:
        return _page_key.__wrapped__(url_or_path, tuple(page_params))
    return _page_key(url_or_path, tuple(page_params))


@functools.lru_cache(maxsize=16384)  # a site's hits mostly go to a few thousand pages
def _page_key(url_or_path: str, page_params: tuple[str, ...]) -> str:
    if not url_or_path.isascii():  # a lone surrogate (an imported file's broken text) is no character
        url_or_path = SURROGATE.sub("\ufffd", url_or_path)
    if url_or_path.startswith(("http://", "https://", "HTTP://", "HTTPS://")) or "://" in url_or_path[:10]:
        parts = urlsplit(url_or_path)
        path, query = parts.path, parts.query
    else:
        path, _, rest = url_or_path.partition("?")
        path = path.partition("#")[0]
        query = rest.partition("#")[0]
    return _normalize(path, query, page_params)


def _normalize(path: str, query: str, page_params: tuple[str, ...]) -> str:
    segments = []
    for segment in _clean_path(path.lower()).split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    if segments and segments[-1] in INDEX_FILES:
        segments.pop()
    key = "/" + "/".join(segments)
    if page_params and query:
        kept = _kept_params(query, page_params)
        if kept:
            key += "?" + "&".join(f"{_encode(name, '')}={_encode(value, '')}" for name, value in kept)
    return _cut(key)


def _clean_path(path: str) -> str:
    """Decode what may be decoded, encode what must stay encoded (rule 3)."""
    def decode(match: re.Match) -> str:
        raw = bytes.fromhex(match[0].replace("%", ""))
        try:
            text = raw.decode("utf-8").lower()
        except UnicodeDecodeError:
            return match[0].upper()
        return _encode(text, PATH_SAFE + "/").replace("/", "%2F")
    pieces, last = [], 0
    for match in ESCAPES.finditer(path):
        pieces.append(_encode(path[last:match.start()], PATH_SAFE + "/"))
        pieces.append(decode(match))
        last = match.end()
    pieces.append(_encode(path[last:], PATH_SAFE + "/"))
    return unicodedata.normalize("NFC", "".join(pieces))


def _encode(text: str, safe: str) -> str:
    """Percent-encode ASCII outside ``safe``; keep non-ASCII characters (they read as text)."""
    return "".join(ch if ord(ch) > 127 and not CONTROL.match(ch) and not ch.isspace()
                   else quote(ch, safe=safe) for ch in text)


def page_link(url_or_path: str, page: str, page_params: tuple[str, ...] = ()) -> str:
    """The path a link to ``page`` should use: as the portal spells it, with only the page_params
    of its query; '' when that is ``page`` itself (the common case: nothing to store)."""
    if len(url_or_path) > CACHED_URL_CHARS:
        return _page_link.__wrapped__(url_or_path, page, page_params)
    return _page_link(url_or_path, page, page_params)


@functools.lru_cache(maxsize=16384)  # one entry per page URL, like page_key's
def _page_link(url_or_path: str, page: str, page_params: tuple[str, ...] = ()) -> str:
    if url_or_path.startswith(("http://", "https://", "HTTP://", "HTTPS://")) or "://" in url_or_path[:10]:
        parts = urlsplit(url_or_path)
        path, query = parts.path or "/", parts.query
    else:
        path, _, query = url_or_path.partition("#")[0].partition("?")
    if not path.startswith("/") or CONTROL.search(path):
        return ""
    kept = _kept_params(query, tuple(page_params)) if page_params and query else []
    link = _cut(path + ("?" + "&".join(f"{_encode(n, '')}={_encode(v, '')}" for n, v in kept) if kept else ""))
    return "" if link == page else link


def _kept_params(query: str, page_params: tuple[str, ...]) -> list[tuple[str, str]]:
    wanted = {name.lower(): name for name in page_params}
    kept = set()
    for name, value in parse_qsl(query, keep_blank_values=False):
        spelled = wanted.get(name.lower())
        if spelled is not None and value:
            kept.add((spelled, value[:MAX_PATH_CHARS]))
    return sorted(kept)


def _cut(key: str) -> str:
    if len(key) <= MAX_PATH_CHARS:
        return key
    cut = key[:MAX_PATH_CHARS]
    escape = cut.rfind("%", len(cut) - 2)
    return cut[:escape] if escape != -1 else cut


def clean_title(title: object) -> str:
    """A page title as kept: text, whitespace collapsed, at most 200 characters ('' if none).

    A lone UTF-16 surrogate (a CMS that cut an emoji in half; JSON's "\\ud83d") becomes U+FFFD:
    it is no character, and nothing downstream could encode it.
    """
    if not isinstance(title, str):
        return ""
    return " ".join(CONTROL.sub(" ", SURROGATE.sub("\ufffd", title)).split())[:MAX_TITLE_CHARS]


def valid_page_params(value: object) -> tuple[str, ...] | None:
    """A site's ``page_params`` as stored, or None when malformed."""
    if not isinstance(value, list) or len(value) > MAX_PAGE_PARAMS:
        return None
    if not all(isinstance(name, str) and PAGE_PARAM.fullmatch(name) for name in value):
        return None
    return tuple(dict.fromkeys(value))
