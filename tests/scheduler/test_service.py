"""The scheduler for real: a subprocess with a persistent job store, killed and restarted."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from footfall.scheduler.service import Ledger
from tests.conftest import footfall_cmd
from tests.helpers import wait_for

# A job that takes 1.5 s and writes when it starts and ends, keyed by its slot.
JOB = """
import os, sys, time
path, slot = sys.argv[1], os.environ["FOOTFALL_SLOT"]
with open(path, "a") as f: f.write(f"start {slot}\\n")
time.sleep(1.5)
with open(path, "a") as f: f.write(f"end {slot}\\n")
"""


def events(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [tuple(line.split()) for line in path.read_text().splitlines()]  # type: ignore[misc]


def running_slot(path: Path) -> str | None:
    ev = events(path)
    ended = {s for k, s in ev if k == "end"}
    started = [s for k, s in ev if k == "start" and s not in ended]
    return started[-1] if started else None


@pytest.fixture
def config(tmp_path: Path) -> Path:
    script = tmp_path / "job.py"
    script.write_text(JOB)
    cfg = {
        "scheduler": {
            "db": str(tmp_path / "sched.db"),
            "log_dir": str(tmp_path / "logs"),
            "shutdown_timeout_s": 10,
            "jobs": [
                {
                    "name": "tick",
                    "kind": "command",
                    "command": [sys.executable, str(script), str(tmp_path / "events.txt")],
                    "interval_s": 2,
                    "misfire_grace_s": 60,
                }
            ],
        }
    }
    path = tmp_path / "scheduler.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def start(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(footfall_cmd("scheduler", "run", "--config", str(config)), stderr=subprocess.PIPE)


@pytest.mark.slow
def test_restart_neither_loses_nor_duplicates_a_run(config: Path, tmp_path: Path) -> None:
    log = tmp_path / "events.txt"
    proc = start(config)
    try:
        wait_for(lambda: sum(k == "end" for k, _ in events(log)) >= 2, 30, "two finished runs")
        wait_for(lambda: running_slot(log) is not None, 10, "a run in progress")
        interrupted = running_slot(log)
        proc.kill()  # kill -9 in the middle of a run: its child dies with it (no orphan finishes the slot)
        proc.wait(10)
        killed_at = time.time()
        time.sleep(4.5)  # two slots fall due while the scheduler is down
        assert running_slot(log) == interrupted, "the killed run's child must not have finished it"

        restarted_at = time.time()
        proc = start(config)
        wait_for(lambda: ("end", interrupted) in events(log), 30, "the interrupted slot to be run again")
        wait_for(lambda: sum(k == "end" for k, _ in events(log)) >= 5, 30, "runs after the restart")
        # a second scheduler on the same database refuses to start
        second = start(config)
        assert second.wait(30) != 0
        assert b"another footfall scheduler is running" in second.stderr.read()  # type: ignore[union-attr]

        wait_for(lambda: running_slot(log) is not None, 10, "a run in progress")
        graceful = running_slot(log)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    ended = Counter(s for k, s in events(log) if k == "end")
    assert max(ended.values()) == 1, f"a slot ran twice: {ended}"
    rows = {r["slot"]: r for r in Ledger(tmp_path / "sched.db", "test").rows("tick")}
    by_iso = {time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(s)): r for s, r in rows.items()}
    assert by_iso[interrupted]["status"] == "done" and by_iso[interrupted]["attempts"] == 2
    assert by_iso[graceful]["status"] == "interrupted"  # stopped by SIGTERM: runs again on the next start
    # the slots that fell due while it was down (two or three) are run once, coalesced into the latest;
    # the scheduler was back when it re-claimed the interrupted slot
    back_at = by_iso[interrupted]["started"]
    missed = [s for s in rows if killed_at < s < back_at]
    assert len(missed) == 1, sorted(round(s - killed_at, 2) for s in rows)
    assert back_at - restarted_at < 10
    assert all(r["status"] == "done" for s, r in rows.items() if by_iso.get(graceful) is not r)

    proc = start(config)  # the slot interrupted by the shutdown is finished on the next start
    try:
        wait_for(lambda: ("end", graceful) in events(log), 30, "the slot stopped by SIGTERM")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert Counter(s for k, s in events(log) if k == "end")[graceful] == 1


def test_ledger_claims_a_slot_once(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    first, second = Ledger(db, "one"), Ledger(db, "two")
    assert first.claim("job", 100.0, "log")
    assert not first.claim("job", 100.0, "log")  # the same instance never runs a slot twice
    assert second.claim("job", 100.0, "log")  # left running by a dead instance: taken over
    second.finish("job", 100.0, "done", 0)
    assert not first.claim("job", 100.0, "log") and not Ledger(db, "three").claim("job", 100.0, "log")
    assert first.unfinished() == []
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT status, attempts FROM runs").fetchall() == [("done", 2)]
    assert os.path.exists(db)
