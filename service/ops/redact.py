"""Keep secrets and client addresses out of every log line and error message."""

from __future__ import annotations

import copy
import logging
import re

URL_CREDENTIALS = re.compile(r"""(?i)\b([a-z][a-z0-9+.-]*://)[^\s/"'<>]*@""")
"""user:password@ (or a bare password@) in any URL, e.g. redis://:secret@host:6379/0, up to the
last @ before the path: a password may itself hold an @ (redis://:p@ss@host, as urllib parses it)."""
URL_SECRET_ARGUMENTS = re.compile(r"""(?i)([?&;][a-z_]*(?:pass|pwd|secret|token|auth)[a-z_]*=)[^&#\s"'<>]*""")
"""?password=... (and sentinel_password=, ssl_password=, token=...) in a URL's query, which redis-py reads."""
CLIENT_ADDRESS = re.compile(r"\bip=\S+")
"""gunicorn's "Invalid request from ip=203.0.113.7: ..." warnings."""
SHARE_SECRET = re.compile(r"(/dashboard/share/)[^\s?#\"'<>]+")
"""A share link's secret in a path, e.g. gunicorn's "Error handling request GET /dashboard/share/..."."""


def redact(text: str) -> str:
    """``text`` with URL credentials, secret URL arguments and client addresses replaced."""
    # Arguments first: "?password=a@b" must not be read as userinfo ending at its "@".
    text = URL_CREDENTIALS.sub(r"\1***@", URL_SECRET_ARGUMENTS.sub(r"\1***", text))
    return SHARE_SECRET.sub(r"\1***", CLIENT_ADDRESS.sub("ip=<hidden>", text))


class RedactFilter(logging.Filter):
    """A logging filter that redacts each record's message (and its arguments) before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if redact(str(exc)) != str(exc):  # a traceback would print the secret: keep only its type
                record.msg, record.args = f"{cleaned} ({type(exc).__name__}: {redact(str(exc))})", None
                record.exc_info, record.exc_text = None, None
        return True


class AccessRecordFilter(logging.Filter):
    """gunicorn's access lines (only with --access-logfile) without the reader's address, User-Agent,
    Referer, request headers or a share secret."""

    HIDDEN = ("h", "a", "f")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict):
            atoms = copy.copy(record.args)  # gunicorn's SafeAtoms: a missing atom still reads "-"
            for key in list(atoms):
                if key in self.HIDDEN or key.startswith("{"):
                    atoms[key] = "-"
                elif isinstance(atoms[key], str):
                    atoms[key] = redact(atoms[key])
            record.args = atoms
        return True
