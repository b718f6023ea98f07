"""kill -9 mid-run: no committed crossing lost, none stored twice, the resumed counts are exact."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import footfall_cmd

pytestmark = pytest.mark.slow

LINES = [
    {"name": "x240", "points": [[240, 0], [240, 360]]},
    {"name": "y200", "points": [[0, 200], [480, 200]]},
    {"name": "diag", "points": [[100, 360], [400, 0]]},
]


def _config(tmp: Path, clip: Path, model: Path, reid: Path, db: str) -> Path:
    cfg = {
        "cameras": [{"name": "plaza", "source": str(clip), "start_time": 1_700_000_000, "lines": LINES}],
        "model": {"path": str(model), "input_size": 480},
        "tracker": {"name": "strongsort", "reid_weights": str(reid)},
        "counting": {"uturn_window_s": 2},
        "storage": {"db": db, "checkpoint_every_s": 2},
        "metrics": {"port": 0},
    }
    path = tmp / f"{db}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _events(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT line, track_id, frame, ts, class, direction FROM events ORDER BY frame, line, track_id"
        ).fetchall()


def test_kill_9_then_restart_equals_an_uninterrupted_run(
    tmp_path: Path, short_clip: Path, yolov5n_onnx: Path, osnet_onnx: Path
) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    clean_cfg = _config(tmp_path, short_clip, yolov5n_onnx, osnet_onnx, "clean.db")
    subprocess.run(
        footfall_cmd("edge", "run", "--config", str(clean_cfg), "--no-progress"),
        check=True,
        cwd=tmp_path,
        env=env,
        capture_output=True,
    )
    reference = _events(tmp_path / "clean.db")
    assert len(reference) >= 5, "the clip has crossings to lose"

    crash_cfg = _config(tmp_path, short_clip, yolov5n_onnx, osnet_onnx, "crash.db")
    proc = subprocess.Popen(
        footfall_cmd("edge", "run", "--config", str(crash_cfg), "--no-progress"),
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = tmp_path / "crash.db"
    deadline = time.monotonic() + 300
    before: list[tuple] = []
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if db.exists():
            try:
                before = _events(db)
                with sqlite3.connect(db) as con:
                    next_frame = con.execute("SELECT max(next_frame) FROM sessions").fetchone()[0] or 0
            except sqlite3.OperationalError:
                continue
            if len(before) >= 3 and next_frame >= 60:
                break
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the service and its camera worker, mid-frame
    proc.wait()
    committed = _events(db)
    assert set(before) <= set(committed)

    summary = tmp_path / "resumed.json"
    subprocess.run(
        footfall_cmd("edge", "run", "--config", str(crash_cfg), "--no-progress", "--summary-json", str(summary)),
        check=True,
        cwd=tmp_path,
        env=env,
        capture_output=True,
    )
    after = _events(db)
    assert set(committed) <= set(after), "a crossing committed before the kill was lost"
    assert len(after) == len(set(after)), "a crossing was stored twice"
    assert after == reference, "the resumed run must count exactly like the uninterrupted one"
    cam = json.loads(summary.read_text())["cameras"]["plaza"]
    assert cam["resumed_from_frame"] > 0
    assert cam["frames"] < 300
