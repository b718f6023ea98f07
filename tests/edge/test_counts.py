"""The read API of the count database: counts per local interval, filtered, from the rollup or the rows."""

from __future__ import annotations

import datetime as dt
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from footfall.common.localtime import check_interval
from footfall.edge.counts import CountReader, CountRow, Filter
from footfall.edge.store import CountStore
from footfall.edge.types import Direction
from tests.edge.test_store import ev


def flat(rows: list[CountRow]) -> list[tuple]:
    return [(r.start, *r.group, r.direction, r.n) for r in rows]


def test_interval_counts_bucket_and_filter(tmp_path: Path) -> None:
    with CountStore(tmp_path / "c.db") as store:
        store.open_session("s", "cam", "v.avi", 0.0)
        store.commit(
            "s", [ev(1, ts=10), ev(2, ts=899), ev(3, ts=900), ev(4, Direction.UTURN, ts=901), ev(5, line="other", ts=5)]
        )
    rows = flat(CountReader(tmp_path / "c.db").interval_counts(0, 1800, 900, UTC, flt=Filter(lines=("door",))))
    assert rows == [
        (0, "cam", "door", "child", "in", 2),
        (900, "cam", "door", "child", "in", 1),
        (900, "cam", "door", "child", "uturn", 1),
    ]


def _local(zone: str, *args: int) -> float:
    return dt.datetime(*args, tzinfo=ZoneInfo(zone)).timestamp()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("zone", "interval_s", "times", "want_starts"),
    [
        # half-hour offset: hours start on the local hour, not on the UTC one (10:00 IST = 04:30 UTC)
        ("Asia/Kolkata", 3600, [(2026, 11, 24, 10, 10), (2026, 11, 24, 10, 50)], [(2026, 11, 24, 10, 0)]),
        # a day is the local calendar day: 23:30 and 00:30 in New York are two days
        (
            "America/New_York",
            86400,
            [(2026, 11, 24, 23, 30), (2026, 11, 25, 0, 30)],
            [(2026, 11, 24, 0, 0), (2026, 11, 25, 0, 0)],
        ),
        # the 23-hour DST day in Paris: 23:30 is still that day, and its hours stay on the hour
        ("Europe/Paris", 86400, [(2026, 3, 29, 1, 30), (2026, 3, 29, 23, 30)], [(2026, 3, 29, 0, 0)]),
        ("Europe/Paris", 3600, [(2026, 3, 29, 3, 15)], [(2026, 3, 29, 3, 0)]),
    ],
)
def test_interval_counts_follow_the_local_clock(
    tmp_path: Path, zone: str, interval_s: int, times: list[tuple[int, ...]], want_starts: list[tuple[int, ...]]
) -> None:
    stamps = [_local(zone, *t) for t in times]
    with CountStore(tmp_path / "c.db") as store:
        store.open_session("s", "cam", "v.avi", 0.0)
        store.commit("s", [ev(i, ts=t) for i, t in enumerate(stamps)])
    rows = flat(
        CountReader(tmp_path / "c.db").interval_counts(
            min(stamps) - 86400, max(stamps) + 86400, interval_s, ZoneInfo(zone)
        )
    )
    assert [r[0] for r in rows] == [_local(zone, *w) for w in want_starts]
    assert sum(r[-1] for r in rows) == len(times)


def test_interval_counts_clip_to_the_asked_range(tmp_path: Path) -> None:
    with CountStore(tmp_path / "c.db") as store:
        store.open_session("s", "cam", "v.avi", 0.0)
        store.commit("s", [ev(1, ts=3600), ev(2, ts=3700), ev(3, ts=7000)])
    rows = flat(CountReader(tmp_path / "c.db").interval_counts(3650, 7000, 3600, UTC))
    assert rows == [(3600, "cam", "door", "child", "in", 1)]  # 3600 is before, 7000 is the exclusive end


@pytest.mark.parametrize("bad", [0, 7 * 60, 7 * 86400])
def test_intervals_that_do_not_tile_a_day_are_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="divide a day"):
        check_interval(bad)


def test_the_rollup_and_the_rows_give_the_same_counts(tmp_path: Path) -> None:
    """Whole quarter-hours come from the rollup, a window cut mid-quarter from the rows: same counts."""
    import random

    rng = random.Random(7)
    stamps = sorted(rng.uniform(0, 86400) for _ in range(500))
    with CountStore(tmp_path / "c.db") as store:
        store.open_session("s", "cam", "v.avi", 0.0)
        store.commit("s", [ev(i, rng.choice([Direction.IN, Direction.OUT]), ts=t) for i, t in enumerate(stamps)])
    reader = CountReader(tmp_path / "c.db")
    aligned = reader.interval_counts(0, 86400, 3600, UTC)  # rollup
    cut = reader.interval_counts(0, 86400 - 1e-3, 3600, UTC)  # rows (the end is not on a quarter-hour)
    assert flat(aligned) == flat(cut) and sum(r.n for r in aligned) == 500
