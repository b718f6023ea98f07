"""The loop when training goes wrong: a training stage that crashes or hangs without a word ends the
cycle with a clear error, kills what it started, and publishes nothing (no version, no alias moved),
so the scheduler's chain stops there. A real 'footfall retrain run' on real datasets and weights; only
the training environment's Python is replaced by a script that crashes or hangs."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from footfall.registry.core import Registry
from footfall.registry.datasets import DatasetStore
from footfall.registry.signing import Trust
from footfall.registry.storage import FileStorage, open_storage
from tests.conftest import DATA, YOLOV5N_PT, footfall_cmd

pytestmark = pytest.mark.slow
PETS = DATA / "yolo" / "pets09_s2l1_person"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> Path:
    """A training server's registry with a training set and the held-out set, and a shared work dir."""
    root = tmp_path_factory.mktemp("server")
    store = DatasetStore(open_storage(f"file://{root / 'registry'}"), trust)
    store.publish("pets-train", PETS, splits=("train",))
    store.publish("pets-heldout", PETS, splits=("val",))
    return root


def run(server: Path, tmp_path: Path, trust: Trust, script: str, timeout_s: int = 600) -> subprocess.CompletedProcess:
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    cfg = {
        "registry": f"file://{server / 'registry'}",
        "classes": ["person"],
        "train_datasets": ["pets-train"],
        "heldout": "pets-heldout:1",
        "base_weights": str(YOLOV5N_PT),
        "work_dir": str(server / "work"),  # shared: the baseline's ONNX export is made once
        "signing": {"sign_key": str(trust.sign_key), "verify_key": str(trust.verify_key)},
        "train": {"python": str(fake), "epochs": 1, "imgsz": 320, "timeout_s": timeout_s},
        "evaluation": {"input_size": 320},
    }
    (tmp_path / "retrain.yaml").write_text(yaml.safe_dump({"retrain": cfg}))
    return subprocess.run(
        footfall_cmd("retrain", "run", "--config", str(tmp_path / "retrain.yaml")),
        capture_output=True,
        text=True,
        timeout=300,
    )


def published(server: Path) -> list:
    return Registry(FileStorage(server / "registry")).versions("people")


def test_a_crashing_training_publishes_nothing(server: Path, tmp_path: Path, trust: Trust) -> None:
    proc = run(server, tmp_path, trust, 'echo "RuntimeError: CUDA out of memory"; exit 3')
    assert proc.returncode != 0
    assert "failed (exit 3)" in proc.stderr and "CUDA out of memory" in proc.stderr, proc.stderr[-2000:]
    assert published(server) == []


def test_a_silent_hang_is_killed_at_the_timeout(server: Path, tmp_path: Path, trust: Trust) -> None:
    marker = f"hang-{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    proc = run(server, tmp_path, trust, f"sleep 300 && echo {marker}", timeout_s=5)
    took = time.monotonic() - t0
    assert proc.returncode != 0
    assert "exceeded retrain.train.timeout_s = 5 s" in proc.stderr, proc.stderr[-2000:]
    assert took < 120, f"{took:.0f} s: the hang was not cut at the timeout"
    leftover = subprocess.run(["pgrep", "-f", "sleep 300"], capture_output=True, text=True).stdout.split()
    assert not leftover, "the hung stage's processes were left running"
    assert published(server) == []
