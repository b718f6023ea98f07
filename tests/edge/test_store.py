from __future__ import annotations

from pathlib import Path

from footfall.edge.store import CountStore
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
