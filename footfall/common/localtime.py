"""Local time of a store: its zone, its calendar days, and bucket sizes that tile a day.

Counts are bucketed from local midnight, so hours are on the hour and a day is a calendar day in the
store's zone (23 or 25 hours long on daylight-saving days).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_S = 86_400


def local_zone() -> ZoneInfo:
    """The machine's zone (``$TZ`` or /etc/localtime), UTC when it cannot be named."""
    name = os.environ.get("TZ")
    if not name:
        try:  # /etc/localtime -> /usr/share/zoneinfo/America/Argentina/Buenos_Aires
            parts = Path("/etc/localtime").resolve().parts
            name = "/".join(parts[parts.index("zoneinfo") + 1 :]) if "zoneinfo" in parts else None
        except OSError:
            name = None
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def check_interval(interval_s: int) -> None:
    """Refuse a bucket size that does not tile a day (buckets restart at local midnight)."""
    if interval_s <= 0 or (interval_s != DAY_S and DAY_S % interval_s):
        raise ValueError(
            f"interval of {interval_s} s does not divide a day; use one that does (e.g. 15m, 30m, 1h, 2h) or 1d"
        )


def local_days(since: float, until: float, tz: tzinfo) -> Iterator[tuple[float, float]]:
    """(start, end) timestamps of each local calendar day in ``tz`` that overlaps ``[since, until)``."""
    day = dt.datetime.fromtimestamp(since, tz).date()
    while True:
        t0 = dt.datetime.combine(day, dt.time(), tz).timestamp()
        if t0 >= until:
            return
        day += dt.timedelta(days=1)
        t1 = dt.datetime.combine(day, dt.time(), tz).timestamp()
        if t1 > since:
            yield t0, t1
