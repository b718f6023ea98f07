"""The gate's count figures are a device's: the same config counted by 'footfall edge run' and by the gate."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from footfall.edge.config import load_config
from footfall.retrain.config import EvalSettings
from footfall.retrain.evaluate import sequence_scores
from tests.conftest import PETS_GT, ROOT, VTEST, footfall_cmd

FRAMES = 300


@pytest.mark.slow
def test_the_gate_counts_what_the_device_counts(yolov5n_onnx: Path, tmp_path: Path) -> None:
    """One device config (the sample: U-turn window 2 s, occlusion entries, hysteresis, stitching) run
    by the real service on the clip, and by the gate's sequence scoring: the same crossings per line.
    (The gate scores a U-turn as its two crossings, because the ground truth counts every crossing.)"""
    data = load_config(ROOT / "configs" / "sample.yaml").model_dump(mode="json")
    data["model"]["path"] = str(yolov5n_onnx)
    data["storage"]["db"] = str(tmp_path / "device.db")
    data["metrics"]["port"] = 0
    data["capture"]["enabled"] = False
    device = tmp_path / "edge.yaml"
    device.write_text(yaml.safe_dump(data))
    run = subprocess.run(
        footfall_cmd(
            "edge", "run", "--config", str(device), "--max-frames", str(FRAMES), "--no-progress",
            "--summary-json", str(tmp_path / "summary.json"),
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    counted = json.loads((tmp_path / "summary.json").read_text())["lines"]

    lines = {line["name"]: [*line["points"][0], *line["points"][1]] for line in data["cameras"][0]["lines"]}
    settings = EvalSettings(
        input_size=data["model"]["input_size"],
        conf_threshold=data["model"]["conf_threshold"],
        device_config=device,
        sequences=[{"name": "pets", "video": VTEST, "gt": PETS_GT, "lines": lines, "max_frames": FRAMES}],
    )
    gate = sequence_scores(yolov5n_onnx, ["person"], settings, {"person": "person"})["pets"]["lines"]
    assert sum(c["in"] + c["out"] + c["uturns"] for c in counted.values()) >= 10, counted
    for name, c in counted.items():
        assert gate[name]["counted"] == {"in": c["in"] + c["uturns"], "out": c["out"] + c["uturns"]}, (name, c)
        assert gate[name]["uturns"] == c["uturns"]


def test_the_gate_refuses_a_device_config_it_would_not_judge_faithfully(tmp_path: Path) -> None:
    from footfall.common.config import ConfigError
    from footfall.retrain.evaluate import device_config

    settings = EvalSettings(input_size=640, conf_threshold=0.4, device_config=ROOT / "configs" / "sample.yaml")
    with pytest.raises(ConfigError, match=r"model.input_size = 480 but retrain.evaluation.input_size = 640"):
        device_config(settings)


def test_sequences_need_the_device_config() -> None:
    with pytest.raises(ValueError, match=r"set evaluation\.device_config"):
        EvalSettings(sequences=[{"name": "s", "video": VTEST, "gt": PETS_GT, "lines": {"a": [0, 0, 1, 1]}}])
