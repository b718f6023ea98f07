"""Counts, occupancy, dwell and CSV read back from a count store with known crossings."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from footfall.dashboard.queries import Filter, QueryError, Store, clamped_running_sum
from footfall.edge.counts import CountReader
from footfall.edge.store import CountStore
from footfall.edge.types import CrossingEvent, Direction

BERLIN = ZoneInfo("Europe/Berlin")


def at(day: str, hhmm: str, tz: ZoneInfo = BERLIN) -> float:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=tz).timestamp()


def ev(ts: float, direction: str, track: int, cls: str = "male_adult", line: str = "door", camera: str = "front"):
    d = Direction(direction)
    first = Direction.IN if d is Direction.UTURN else None
    return CrossingEvent(camera, line, track, int(ts) % 10_000_000, ts, cls, d, first)


def make_store(tmp_path: Path, events: list[CrossingEvent], **kw) -> Store:
    db = tmp_path / "footfall.db"
    with CountStore(db) as s:
        s.commit("s1", events)
    return Store(CountReader(db), BERLIN, **kw)


def test_reflected_running_sum_matches_the_loop() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        delta = rng.choice([-1, 1], size=rng.integers(0, 40))
        level, expected = 0, []
        for d in delta:
            level = max(0, level + d)
            expected.append(level)
        assert clamped_running_sum(delta).tolist() == expected


def test_hourly_buckets_follow_local_time_across_the_dst_change(tmp_path: Path) -> None:
    # 2026-03-29: Berlin skips 02:00-03:00, so the day has 23 hours
    day = "2026-03-29"
    store = make_store(
        tmp_path,
        [ev(at(day, "01:59"), "in", 1), ev(at(day, "03:30"), "in", 2), ev(at(day, "03:45"), "out", 3)],
    )
    out = store.counts(date(2026, 3, 29), date(2026, 3, 29), 3600, ())
    assert len(out["buckets"]) == 23
    assert out["buckets"][1] == "2026-03-29T01:00+01:00" and out["buckets"][2] == "2026-03-29T03:00+02:00"
    series = {s["direction"]: s["values"] for s in out["series"]}
    assert series["in"][1] == 1 and series["in"][2] == 1 and series["out"][2] == 1
    assert out["totals"] == {"in": 2, "out": 1, "uturns": 0, "by_class": {}}


def test_counts_group_filter_and_uturns(tmp_path: Path) -> None:
    d = "2026-11-23"
    events = [
        ev(at(d, "09:01"), "in", 1, "child"),
        ev(at(d, "09:14"), "in", 2, "female_adult"),
        ev(at(d, "09:15"), "out", 3, "female_adult"),
        ev(at(d, "09:20"), "uturn", 4, "male_adult"),
        ev(at(d, "10:00"), "in", 5, "male_adult", line="side", camera="back"),
        ev(at("2026-11-24", "00:00"), "in", 6),  # the next day: not counted on the 23rd
    ]
    store = make_store(tmp_path, events)
    out = store.counts(date(2026, 11, 23), date(2026, 11, 23), 900, ("class",))
    assert len(out["buckets"]) == 96 and out["buckets"][36] == "2026-11-23T09:00+01:00"
    by = {(s["class"], s["direction"]): s["values"] for s in out["series"]}
    assert by[("child", "in")][36] == 1 and by[("female_adult", "in")][36] == 1
    assert by[("female_adult", "out")][37] == 1  # 09:15 opens the next quarter
    assert out["totals"]["in"] == 3 and out["totals"]["out"] == 1 and out["totals"]["uturns"] == 1
    assert out["totals"]["by_class"]["male_adult"] == {"in": 1, "out": 0}
    front = store.counts(date(2026, 11, 23), date(2026, 11, 23), 86400, ("camera", "line"), Filter(cameras=("front",)))
    assert {(s["camera"], s["direction"]): s["values"] for s in front["series"]} == {
        ("front", "in"): [2],
        ("front", "out"): [1],
    }
    two_days = store.counts(date(2026, 11, 23), date(2026, 11, 24), 86400, ())
    assert two_days["buckets"] == ["2026-11-23T00:00+01:00", "2026-11-24T00:00+01:00"]
    assert next(s for s in two_days["series"] if s["direction"] == "in")["values"] == [3, 1]
    rows = list(store.csv_rows(date(2026, 11, 23), date(2026, 11, 23), 900))
    assert rows[0][:3] == ["interval_start", "interval_end", "camera"]
    assert sum(int(r[-2]) for r in rows[1:]) == 4  # in + out, U-turns are not crossings of the table
    row = ["2026-11-23T09:15+01:00", "2026-11-23T09:30+01:00", "front", "door", "female_adult", "out", "1", "yes"]
    assert row in rows  # no entrances named: every line is one


def test_occupancy_never_negative_and_resets_at_opening(tmp_path: Path) -> None:
    d = "2026-11-23"
    events = [
        ev(at(d, "07:30"), "out", 1),  # left before opening: yesterday's business day
        ev(at(d, "08:05"), "out", 2),  # someone in since yesterday leaves: no negative occupancy
        ev(at(d, "08:10"), "in", 3, "child"),
        ev(at(d, "08:20"), "in", 4),
        ev(at(d, "09:40"), "out", 3, "child"),
        ev(at(d, "09:50"), "uturn", 5),  # a U-turn changes nothing
    ]
    store = make_store(tmp_path, events, opening_hour=8)
    occ = store.occupancy(date(2026, 11, 23), 3600)
    assert occ["opens"] == "2026-11-23T08:00+01:00"
    assert occ["values"][:3] == [2, 1, 1] and occ["peak"] == 2 and occ["current"] == 1
    assert occ["by_class"]["child"]["values"][:2] == [1, 0]
    future = store.occupancy(date(2026, 11, 23), 3600, now=at(d, "10:30"))
    assert future["values"][2] == 1 and future["values"][3] is None  # 11:00 has not begun


def test_dwell_pairs_in_then_out_of_the_same_track_at_the_entrances(tmp_path: Path) -> None:
    d = "2026-11-23"
    events = [
        ev(at(d, "10:00"), "in", 1, "child"),
        ev(at(d, "10:05"), "out", 1, "child"),  # 5 min
        ev(at(d, "10:00"), "in", 2),
        ev(at(d, "10:30"), "out", 2),  # 30 min
        ev(at(d, "11:00"), "out", 3),  # never seen entering: no visit
        ev(at(d, "11:00"), "in", 4),
        ev(at(d, "11:02"), "out", 4, line="aisle"),  # not an entrance
    ]
    store = make_store(tmp_path, events, entrances=["front/door"])
    dw = store.dwell(date(2026, 11, 23), date(2026, 11, 23))
    assert dw["visits"] == 2 and dw["median_s"] == pytest.approx(1050.0)
    assert dw["by_class"]["child"]["median_s"] == 300.0
    assert [h["visits"] for h in dw["histogram"]][:5] == [0, 0, 1, 0, 1]  # 5 min opens 5–15, 30 min 30–60
    assert (
        make_store(tmp_path / "x", events, max_dwell_s=600).dwell(date(2026, 11, 23), date(2026, 11, 23))["visits"] == 2
    )  # every line: the 5-minute visit and the 2-minute one via the aisle; 30 min is beyond max


def test_bad_requests_say_what_to_do(tmp_path: Path) -> None:
    store = make_store(tmp_path, [ev(at("2026-11-23", "10:00"), "in", 1)])
    with pytest.raises(QueryError, match="choose one of"):
        store.counts(date(2026, 11, 23), date(2026, 11, 23), 123, ())
    with pytest.raises(QueryError, match="group_by"):
        store.counts(date(2026, 11, 23), date(2026, 11, 23), 900, ("store",))
    with pytest.raises(QueryError, match="before start"):
        store.counts(date(2026, 11, 23), date(2026, 11, 22), 900, ())
    with pytest.raises(FileNotFoundError, match="footfall edge run"):
        Store(CountReader(tmp_path / "none.db"), BERLIN).counts(date(2026, 11, 23), date(2026, 11, 23), 900, ())


def test_quarter_hour_rollup_and_raw_events_give_the_same_counts(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    t0 = at("2026-11-23", "00:00")
    events = [
        ev(
            t0 + float(rng.uniform(0, 2 * 86400)),
            str(rng.choice(["in", "out", "uturn"])),
            k,
            str(rng.choice(["child", "female_adult", "male_adult"])),
            str(rng.choice(["door", "side"])),
        )
        for k in range(3000)
    ]
    store = make_store(tmp_path, events)
    days = (date(2026, 11, 23), date(2026, 11, 24))
    fine = store.counts(*days, 300, ("camera", "line", "class"))  # 5 minutes: read from the events
    for interval in (900, 3600, 86400):  # read from the rollup
        coarse = store.counts(*days, interval, ("camera", "line", "class"))
        assert coarse["totals"] == fine["totals"]
        per = interval // 300 if interval < 86400 else 288
        for a, b in zip(coarse["series"], fine["series"], strict=True):
            assert {k: a[k] for k in ("camera", "line", "class", "direction")} == {
                k: b[k] for k in ("camera", "line", "class", "direction")
            }
            assert a["values"] == [sum(b["values"][i : i + per]) for i in range(0, len(b["values"]), per)]


def test_the_headline_counts_the_entrances_once_and_the_table_every_line(tmp_path: Path) -> None:
    """One camera with four lines over one door (the sample's layout): each line counts the same people.
    The headline (counts, CSV, summary, occupancy) is the entrance line's; every line stays available."""
    d = "2026-11-23"
    events = [
        ev(at(d, "10:00") + k, "in" if k % 3 else "out", k, line=line)
        for line in ("x240", "x269", "y200", "diag")
        for k in range(12)
    ]
    store = make_store(tmp_path, events, entrances=["front/x240"])
    day = date(2026, 11, 23)
    head = store.counts(day, day, 3600, ("class",))
    assert (head["totals"]["in"], head["totals"]["out"], head["lines"]) == (8, 4, ["front/x240"])
    every = store.counts(day, day, 86400, ("camera", "line"), every_line=True)
    assert every["totals"]["in"] == 32 and {s["line"] for s in every["series"]} == {"x240", "x269", "y200", "diag"}
    chosen = store.counts(day, day, 86400, (), Filter(lines=("diag",)))
    assert chosen["totals"]["in"] == 8 and chosen["lines"] == "as asked"
    assert store.summary(day, 3600)["counts"]["totals"]["in"] == 8
    assert store.occupancy(day, 3600)["peak"] <= 8
    rows = list(store.csv_rows(day, day, 3600))
    assert sum(int(r[6]) for r in rows[1:]) == 12 and {r[7] for r in rows[1:]} == {"yes"}
    rows = list(store.csv_rows(day, day, 3600, every_line=True))
    assert sum(int(r[6]) for r in rows[1:] if r[7] == "yes") == 12 and sum(int(r[6]) for r in rows[1:]) == 48
    # no entrances named: every line is summed, and the answer says so
    assert make_store(tmp_path / "b", events).counts(day, day, 3600, ())["lines"] == "every line"
