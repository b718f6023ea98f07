"""The split of an export: by camera and time block, and never a version with nothing to train on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from footfall.labeling.export import split_of, write_yolo


def _tasks(root: Path, groups: list[tuple[str, float]]) -> list[dict]:
    out = []
    for n, (camera, ts) in enumerate(groups):
        rel = f"harvest/s1/{camera}/i{n}.jpg"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / rel), np.zeros((36, 48, 3), np.uint8))
        box = {"x": 10, "y": 10, "width": 20, "height": 40, "rotation": 0, "rectanglelabels": ["person"]}
        result = [{"from_name": "label", "to_name": "image", "type": "rectanglelabels", "value": box}]
        data = {"store": "s1", "camera": camera, "ts": ts, "path": rel, "item_id": f"i{n}"}
        out.append({"id": n, "data": data, "annotations": [{"id": n, "result": result, "was_cancelled": False}]})
    return out


def _hour(camera: str, side: str) -> float:
    """The start of an hour whose block of ``camera`` falls on ``side``."""
    return next(h * 3600.0 for h in range(500_000, 600_000) if split_of("s1", camera, h * 3600.0) == side)


def test_frames_of_one_camera_and_hour_stay_on_one_side(tmp_path: Path) -> None:
    groups = [("a", _hour("a", "val") + k) for k in range(3)] + [("a", _hour("a", "train") + k) for k in range(2)]
    written = write_yolo(_tasks(tmp_path / "files", groups), ["person"], tmp_path / "files", tmp_path / "out")
    assert written["counts"]["val"] == 3 and written["counts"]["train"] == 2


def test_an_export_whose_every_block_falls_on_val_goes_to_train(tmp_path: Path) -> None:
    """Two cameras for one hour, both hashed to val (the flywheel test met it at 21:35 one evening): the
    version had no training images and the retrain failed. Now it goes to train whole."""
    groups = [("a", _hour("a", "val")), ("a", _hour("a", "val") + 60)]
    written = write_yolo(_tasks(tmp_path / "files", groups), ["person"], tmp_path / "files", tmp_path / "out")
    assert written["counts"]["train"] == 2 and "val" not in written["counts"]
    assert sorted(p.name for p in (tmp_path / "out" / "images" / "train").iterdir()) == ["i0.jpg", "i1.jpg"]
