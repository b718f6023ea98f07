"""Camera URLs carry passwords (``rtsp://user:pass@host/…``, ``?password=…``): what may be shown of them.

Logs, the count database (which a central copy of the chain receives) and dashboard errors show the
host and path, never the credentials.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_SECRET_PARAM = re.compile(r"(?i)([?&;](?:pass(?:word)?|pwd|token|key|secret|auth|user(?:name)?)=)[^&;#]*")


def redact_url(uri: str) -> str:
    """``uri`` with any user name, password and credential-like query value replaced by ``***``."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "***"
    if not parts.scheme or not parts.netloc:
        return uri  # a file path or a USB index
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = _SECRET_PARAM.sub(r"\1***", "?" + parts.query)[1:] if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
