"""INT8 yolov5n calibrated on a store's frames: it loads as any model and finds what FP32 finds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from footfall.common.geometry import box_iou
from footfall.edge.config import ModelConfig
from footfall.edge.detectors import create_detector
from footfall.edge.detectors.quantize import calibration_frames, head_nodes
from tests.conftest import ROOT, VTEST, footfall_cmd
from tests.helpers import video_frames


def _pets(first: int, count: int, step: int) -> list[np.ndarray]:
    return list(video_frames(VTEST, first, count, step))


def test_the_head_is_the_output_convolutions_and_what_follows(yolov5n_onnx: Path) -> None:
    graph = onnx.load(str(yolov5n_onnx)).graph
    head = head_nodes(graph)
    convs = [n for n in head if n.endswith("/Conv")]
    assert convs == ["/model.24/m.0/Conv", "/model.24/m.1/Conv", "/model.24/m.2/Conv"]
    assert graph.node[-1].name in head
    assert not any(n.name in head for n in graph.node if n.op_type == "Conv" and n.name not in convs)


def test_too_few_calibration_frames_are_refused(tmp_path: Path) -> None:
    for i, frame in enumerate(_pets(0, 3, 50)):
        cv2.imwrite(str(tmp_path / f"{i}.jpg"), frame)
    with pytest.raises(ValueError, match="3 readable frames; calibration needs at least 8"):
        calibration_frames(tmp_path, 40)


@pytest.mark.slow
def test_int8_finds_what_fp32_finds_on_frames_it_was_not_calibrated_on(tmp_path: Path, yolov5n_onnx: Path) -> None:
    spool = tmp_path / "spool" / "plaza"
    spool.mkdir(parents=True)
    for i, frame in enumerate(_pets(0, 12, 50)):  # frames ≤ 600: what the store captured
        cv2.imwrite(str(spool / f"{i:03d}.jpg"), frame)
    out = tmp_path / "yolov5n-int8.onnx"
    cmd = footfall_cmd("edge", "quantize", "--model", str(yolov5n_onnx), "--out", str(out))
    subprocess.run([*cmd, "--calibration", str(tmp_path / "spool"), "--frames", "12"], cwd=ROOT, check=True)

    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["precision"] == "int8" and meta["calibration_frames"] == "12"
    assert out.stat().st_size < yolov5n_onnx.stat().st_size / 2
    fp32 = create_detector(ModelConfig(path=yolov5n_onnx, input_size=480, conf_threshold=0.4))
    int8 = create_detector(ModelConfig(path=out, input_size=480, conf_threshold=0.4))
    assert int8.class_names == fp32.class_names
    found = total = 0
    for frame in _pets(610, 10, 18):  # held out: never used for calibration
        a, b = fp32.detect(frame), int8.detect(frame)
        total += len(a)
        found += int((box_iou(a.xyxy, b.xyxy) >= 0.5).any(axis=1).sum())
    assert total >= 40
    assert found >= 0.9 * total, f"INT8 found {found} of FP32's {total} people"
