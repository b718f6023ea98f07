"""Jobs chained by completion ('after'): export → retrain → canary rollout → release, each for the slot
of the job before it, never twice, stopped by a failure, and resumed after a stop between two stages.
Real subprocesses stand in for the stages (each writes its name and slot)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from footfall.common.config import ConfigError
from footfall.scheduler.service import JobRunner, Ledger, load_scheduler_config, serve

STAGE = (
    "import os, sys; open(sys.argv[1], 'a').write(f\"{sys.argv[2]} {os.environ['FOOTFALL_SLOT']}\\n\"); "
    "sys.exit(int(sys.argv[3]))"
)


def chain_config(tmp_path: Path, fail: str | None = None) -> Path:
    out = tmp_path / "stages.txt"

    def stage(name: str, **trigger: object) -> dict:
        code = "1" if name == fail else "0"
        return {
            "name": name,
            "kind": "command",
            "command": [sys.executable, "-c", STAGE, str(out), name, code],
            **trigger,
        }

    jobs = [
        stage("export", cron="0 23 * * *"),
        stage("retrain", after="export"),
        stage("canary-rollout", after="retrain"),
        stage("release", after="canary-rollout"),
        stage("unrelated", cron="0 1 * * *"),
    ]
    path = tmp_path / "scheduler.yaml"
    path.write_text(yaml.safe_dump({"scheduler": {"db": str(tmp_path / "s.db"), "log_dir": str(tmp_path / "logs"),
                                                  "jobs": jobs}}))  # fmt: skip
    return path


def stages(tmp_path: Path) -> list[str]:
    path = tmp_path / "stages.txt"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def test_a_finished_stage_starts_the_next_for_its_slot(tmp_path: Path) -> None:
    settings = load_scheduler_config(chain_config(tmp_path))
    runner = JobRunner(settings, Ledger(settings.db, "t"))
    assert runner("export", 1_800_000_000.0) == 0
    slot = "2027-01-15T08:00:00+00:00"
    assert stages(tmp_path) == [f"export {slot}", f"retrain {slot}", f"canary-rollout {slot}", f"release {slot}"]
    runner("export", 1_800_000_000.0)  # the same slot again: nothing runs twice
    assert len(stages(tmp_path)) == 4


def test_a_failed_stage_stops_its_chain(tmp_path: Path) -> None:
    settings = load_scheduler_config(chain_config(tmp_path, fail="retrain"))
    ledger = Ledger(settings.db, "t")
    JobRunner(settings, ledger)("export", 1_800_000_000.0)
    assert [s.split()[0] for s in stages(tmp_path)] == ["export", "retrain"]
    assert {r["job"]: r["status"] for r in ledger.rows()} == {"export": "done", "retrain": "failed"}


def test_a_chain_cut_by_a_stop_goes_on_at_the_next_start(tmp_path: Path) -> None:
    """The scheduler stopped after export finished and before retrain started (here: export ran under
    another instance's ledger, as if the process died right after it)."""
    settings = load_scheduler_config(chain_config(tmp_path))
    ledger = Ledger(settings.db, "before-the-crash")
    slot = time.time() - 3600
    assert ledger.claim("export", slot, "log")
    ledger.finish("export", slot, "done", 0)
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(settings,), kwargs={"stop": stop})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(stages(tmp_path)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(30)
    assert [s.split()[0] for s in stages(tmp_path)] == ["retrain", "canary-rollout", "release"]


@pytest.mark.parametrize(
    ("jobs", "problem"),
    [
        ([{"name": "b", "kind": "command", "command": ["true"], "after": "nope"}], "after 'nope' is no job"),
        (
            [
                {"name": "a", "kind": "command", "command": ["true"], "after": "b"},
                {"name": "b", "kind": "command", "command": ["true"], "after": "a"},
            ],
            "is a cycle",
        ),
        ([{"name": "a", "kind": "command", "command": ["true"], "cron": "0 1 * * *", "after": "a"}], "exactly one"),
    ],
)
def test_a_bad_chain_names_the_job(tmp_path: Path, jobs: list, problem: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"scheduler": {"jobs": jobs}}))
    with pytest.raises(ConfigError, match=problem):
        load_scheduler_config(path)
