"""``footfall edge report``: intervals on the store's local clock, clear errors for bad options."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from footfall.edge.cli import edge
from footfall.edge.store import CountStore
from footfall.edge.types import CrossingEvent, Direction


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    kolkata = ZoneInfo("Asia/Kolkata")
    times = [dt.datetime(2026, 11, 24, 10, 10, tzinfo=kolkata), dt.datetime(2026, 11, 24, 10, 50, tzinfo=kolkata)]
    with CountStore(tmp_path / "c.db") as s:
        s.open_session("s", "door-cam", "rtsp://cam", 0.0)
        s.commit(
            "s",
            [
                CrossingEvent("door-cam", "door", i, i, t.timestamp(), "female_adult", Direction.IN, None)
                for i, t in enumerate(times)
            ],
        )
    return tmp_path / "c.db"


def report(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(edge, ["report", "--db", str(db), *args])
    return result.exit_code, result.output


def test_hours_are_on_the_local_hour_of_the_chosen_zone(store: Path) -> None:
    window = ["--since", "2026-11-24T00:00", "--until", "2026-11-25T00:00"]
    code, out = report(store, *window, "--interval", "1h", "--timezone", "Asia/Kolkata", "--format", "json")
    assert code == 0, out
    rows = json.loads(out)
    assert [(r["interval_start"], r["count"]) for r in rows] == [("2026-11-24T10:00+05:30", 2)]
    code, out = report(store, *window, "--interval", "1h", "--utc", "--format", "json")
    assert [(r["interval_start"], r["count"]) for r in json.loads(out)] == [
        ("2026-11-24T04:00+00:00", 1),
        ("2026-11-24T05:00+00:00", 1),
    ]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--interval", "7m"], "--interval"),
        (["--interval", "2d"], "--interval"),
        (["--timezone", "Mars/Olympus"], "--timezone"),
        (["--since", "yesterday-ish"], "ISO 8601"),
    ],
)
def test_bad_options_name_the_option_and_the_fix(store: Path, args: list[str], named: str) -> None:
    code, out = report(store, *args)
    assert code == 2 and named in out, out


@pytest.mark.parametrize(
    ("tz", "want"),
    [("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"), ("Not/AZone", "UTC")],
)
def test_the_machine_zone_comes_from_tz_or_falls_back_to_utc(
    monkeypatch: pytest.MonkeyPatch, tz: str, want: str
) -> None:
    from footfall.common.localtime import local_zone

    monkeypatch.setenv("TZ", tz)
    assert str(local_zone()) == want
