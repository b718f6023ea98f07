"""A job works on the window of its slot, not of the wall clock: missed nights are covered once each."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from footfall.scheduler.service import JobSettings, Ledger, nights


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("slot", "last_done", "want"),
    [
        # the nightly slot harvests the night before its own day, whenever it actually runs
        ("2026-11-25T01:30", None, [("2026-11-24", "2026-11-25")]),
        ("2026-11-25T01:30", "2026-11-24T01:30", [("2026-11-24", "2026-11-25")]),
        # down for two nights: the next slot covers the missed nights too, once each, oldest first
        (
            "2026-11-27T01:30",
            "2026-11-24T01:30",
            [("2026-11-24", "2026-11-25"), ("2026-11-25", "2026-11-26"), ("2026-11-26", "2026-11-27")],
        ),
        # down for a month: at most catch_up_days (3 here) nights
        ("2026-12-25T01:30", "2026-11-24T01:30", [("2026-12-22", "2026-12-23"), ("2026-12-23", "2026-12-24"),
                                                  ("2026-12-24", "2026-12-25")]),
    ],
)  # fmt: skip
def test_the_nights_of_a_harvest_slot(slot: str, last_done: str | None, want: list[tuple[str, str]]) -> None:
    got = nights(ts(slot), ts(last_done) if last_done else None, catch_up_days=3)
    assert got == [(ts(a + "T00:00"), ts(b + "T00:00")) for a, b in want]


def test_a_harvest_slot_runs_one_command_per_night_and_an_export_slot_exports(tmp_path: Path) -> None:
    job = JobSettings(name="h", kind="harvest", config=tmp_path / "h.yaml", cron="30 1 * * *")
    runs = job.runs(ts("2026-11-27T01:30"), ts("2026-11-25T01:30"))
    assert [r[-4:] for r in runs] == [
        ["--since", "2026-11-25T00:00:00+00:00", "--until", "2026-11-26T00:00:00+00:00"],
        ["--since", "2026-11-26T00:00:00+00:00", "--until", "2026-11-27T00:00:00+00:00"],
    ]
    export = JobSettings(
        name="e",
        kind="export",
        config=tmp_path / "h.yaml",
        dataset="store-labels",
        registry="s3://b/p",
        sign_key=tmp_path / "registry.key",
        cron="0 6 * * *",
    )
    (argv,) = export.runs(ts("2026-11-27T06:00"))
    want = ["labeling", "export", "--config", str(tmp_path / "h.yaml"), "--dataset", "store-labels"]
    assert argv[-10:] == [*want, "--registry", "s3://b/p", "--sign-key", str(tmp_path / "registry.key")]


def test_the_ledger_knows_the_last_finished_slot(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "s.db", "i1")
    for slot, status in ((1.0, "done"), (2.0, "failed"), (3.0, "done"), (4.0, "running")):
        assert ledger.claim("h", slot, "log")
        if status != "running":
            ledger.finish("h", slot, status, 0 if status == "done" else 1)
    assert ledger.last_done("h", before=4.0) == 3.0
    assert ledger.last_done("h", before=3.0) == 1.0
    assert ledger.last_done("other", before=9.0) is None
