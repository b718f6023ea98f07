from __future__ import annotations

from pathlib import Path

from edge.store import CountStore
from edge.types import CrossingEvent, Direction


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
