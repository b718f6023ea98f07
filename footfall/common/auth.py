"""Access to the dashboard, its API and the edge live view: one token, checked one way everywhere."""

from __future__ import annotations

import hmac
import ipaddress
import os

TOKEN_ENV = "FOOTFALL_DASHBOARD_TOKEN"


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def access_token(configured: str | None) -> str | None:
    """The configured access token (``dashboard.token``), or ``$FOOTFALL_DASHBOARD_TOKEN``."""
    return configured or os.environ.get(TOKEN_ENV) or None


def token_ok(header: str | None, token: str) -> bool:
    """``Authorization: Bearer TOKEN`` compared in constant time."""
    given = (header or "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), token.encode())
