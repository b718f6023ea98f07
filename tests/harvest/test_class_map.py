"""A capturing model without the product classes (the COCO bootstrap's person) still feeds the harvest:
its boxes are scored and pre-annotated under the mapped class; unmapped ones are counted, not hidden."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from footfall.common.capture import CaptureKey
from footfall.harvest.collect import Item, to_records
from footfall.harvest.config import HarvestConfig
from footfall.harvest.run import _task, choose
from footfall.registry.storage import FileStorage

CLASSES = ["child", "female_adult", "male_adult"]
META = {
    "width": 160,
    "height": 120,
    "model_version": "people:1",
    "boxes": [
        {"class": "person", "confidence": 0.9, "xyxy": [10, 10, 40, 100], "track_id": 1},
        {"class": "person", "confidence": 0.5, "xyxy": [60, 10, 90, 100], "track_id": 2},
        {"class": "dog", "confidence": 0.7, "xyxy": [100, 60, 150, 110], "track_id": 3},
    ],
}


def cfg(tmp_path: Path, **over: object) -> HarvestConfig:
    doc = {"captures": f"file://{tmp_path / 'bucket'}", "classes": CLASSES, "studio": {"files_root": tmp_path}}
    return HarvestConfig.model_validate({**doc, "class_map": {"person": "male_adult"}, **over})


def test_a_map_to_a_class_the_project_lacks_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"class_map maps to \['person'\], which are not among classes"):
        cfg(tmp_path, class_map={"person": "person"})


def test_mapped_boxes_are_scored_and_pre_annotated_and_unmapped_ones_counted(tmp_path: Path) -> None:
    c = cfg(tmp_path)
    key = CaptureKey("s1", "door", "2026-11-24", "door-1")
    bucket = FileStorage(tmp_path / "bucket")
    ok, jpg = cv2.imencode(".jpg", np.zeros((120, 160, 3), np.uint8))
    assert ok
    bucket.put(key.image, jpg.tobytes())
    bucket.put(key.meta, json.dumps(META).encode())
    item = Item(key, 1.7e9, META)

    records = to_records([item], CLASSES, 0.25, c.class_map)
    assert records.class_counts.tolist() == [[0, 0, 2]]  # two persons as male_adult, the dog left out
    (chosen,), _ = choose(c.model_copy(update={"budget": 1, "background_share": 0.0}), [item])
    assert chosen["classes"] == {"male_adult": 2} and chosen["unmapped_boxes"] == 1

    task = _task(c, bucket, chosen)
    (prediction,) = task["predictions"]
    labels = [r["value"]["rectanglelabels"] for r in prediction["result"]]
    assert labels == [["male_adult"], ["male_adult"]] and prediction["model_version"] == "people:1"
