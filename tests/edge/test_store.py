from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from footfall.edge.store import CountStore, check_interval
from footfall.edge.types import CrossingEvent, Direction


def ev(frame: int, direction: Direction = Direction.IN, line: str = "door", ts: float | None = None) -> CrossingEvent:
    first = Direction.IN if direction is Direction.UTURN else None
    return CrossingEvent("cam", line, 1, frame, float(frame) if ts is None else ts, "child", direction, first)


def test_replayed_events_are_stored_once(tmp_path: Path) -> None:
    with CountStore(tmp_path / "c.db") as store:
        store.open_session("s", "cam", "v.avi", 0.0)
        assert store.commit("s", [ev(1), ev(5, Direction.OUT)]) == 2
        assert store.commit("s", [ev(1), ev(5, Direction.OUT), ev(9)]) == 1
        assert store.session_counts("s") == {"door": {"in": {"child": 2}, "out": {"child": 1}}}


def test_checkpoint_survives_reopen(tmp_path: Path) -> None:
    with CountStore(tmp_path / "c.db") as store:
        store.open_session("s", "cam", "v.avi", 100.0)
        store.commit("s", [ev(3)], checkpoint=(42, b"tracker", b"counter"))
    with CountStore(tmp_path / "c.db") as store:
        s = store.open_session("s", "cam", "v.avi", 999.0)
    assert (s.next_frame, s.tracker_state, s.counter_state, s.started_ts, s.finished) == (
        42,
        b"tracker",
        b"counter",
        100.0,
        False,
    )


def test_interval_counts_bucket_and_filter(tmp_path: Path) -> None:
    with CountStore(tmp_path / "c.db") as store:
        store.open_session("s", "cam", "v.avi", 0.0)
        store.commit(
            "s", [ev(1, ts=10), ev(2, ts=899), ev(3, ts=900), ev(4, Direction.UTURN, ts=901), ev(5, line="other", ts=5)]
        )
        rows = store.interval_counts(0, 1800, 900, lines=["door"])
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
        rows = store.interval_counts(min(stamps) - 86400, max(stamps) + 86400, interval_s, tz=ZoneInfo(zone))
    assert [r[0] for r in rows] == [_local(zone, *w) for w in want_starts]
    assert sum(r[-1] for r in rows) == len(times)


def test_interval_counts_clip_to_the_asked_range(tmp_path: Path) -> None:
    with CountStore(tmp_path / "c.db") as store:
        store.open_session("s", "cam", "v.avi", 0.0)
        store.commit("s", [ev(1, ts=3600), ev(2, ts=3700), ev(3, ts=7000)])
        rows = store.interval_counts(3650, 7000, 3600)
    assert rows == [(3600, "cam", "door", "child", "in", 1)]  # 3600 is before, 7000 is the exclusive end


@pytest.mark.parametrize("bad", [0, 7 * 60, 7 * 86400])
def test_intervals_that_do_not_tile_a_day_are_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="divide a day"):
        check_interval(bad)


def test_rollup_keeps_up_with_events_replays_and_old_stores(tmp_path: Path) -> None:
    import sqlite3

    def rollup_vs_events(db: Path) -> tuple[list, list, list]:
        con = sqlite3.connect(db)
        got = con.execute(
            "SELECT bucket, camera, line, class, direction, n FROM counts_15m ORDER BY 1,2,3,4,5"
        ).fetchall()
        want = con.execute(
            "SELECT CAST(ts / 900 AS INTEGER) * 900, camera, line, class, direction, COUNT(*) FROM events "
            "GROUP BY 1,2,3,4,5 ORDER BY 1,2,3,4,5"
        ).fetchall()
        lines = con.execute("SELECT camera, line FROM lines_seen ORDER BY 1, 2").fetchall()
        con.close()
        return got, want, lines

    events = [
        CrossingEvent("cam", "door", t, t, 1000.0 + 97 * t, "child" if t % 3 else "male_adult", Direction.IN)
        for t in range(40)
    ]
    db = tmp_path / "a.db"
    with CountStore(db) as s:
        assert s.commit("s", events[:25]) == 25
        assert s.commit("s", events) == 15  # a replay after a crash: the first 25 are ignored, not re-rolled
    got, want, lines = rollup_vs_events(db)
    assert got == want and sum(r[-1] for r in got) == 40 and lines == [("cam", "door")]

    # a store written before the rollup existed gets it, filled from its events, on first open
    old = tmp_path / "old.db"
    with CountStore(old) as s:
        s.commit("s", events)
    con = sqlite3.connect(old)
    con.executescript("DROP TRIGGER events_rollup; DROP TABLE counts_15m; DROP TABLE lines_seen;")
    con.close()
    with CountStore(old) as s:
        s.commit("s2", [CrossingEvent("cam2", "side", 1, 1, 5000.0, "child", Direction.OUT)])
    got, want, lines = rollup_vs_events(old)
    assert got == want and sum(r[-1] for r in got) == 41 and lines == [("cam", "door"), ("cam2", "side")]
