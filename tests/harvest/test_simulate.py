"""The label-savings experiment's mechanics, small and without timing: a pool of captured PETS frames, a
strategy's selection, the simulated annotator's answers, the training set a run gets
(``bench/label_efficiency.py`` runs the same functions at full size)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from footfall.common.capture import CaptureKey
from footfall.common.classes import PRODUCT_CLASSES
from footfall.common.yolo import read_labels
from footfall.edge.capture import dhash
from footfall.harvest.collect import Item, to_records
from footfall.harvest.simulate import choose, pool_examples, seed_frames, video_examples, write_training_set
from footfall.labeling.mot_import import MotAnnotator
from footfall.registry.storage import FileStorage
from tests.conftest import DATA, PETS_GT, VTEST
from tests.helpers import video_frames

IDENTITIES = DATA / "mot" / "PETS09-S2L1" / "identity_classes.csv"
CLASSES = list(PRODUCT_CLASSES)
POOL = list(range(10, 601, 10))  # MOT frames a device captured (60 of frames 1–600)
RISKY = set(POOL[::7])  # frames where the counter noted a crossing in doubt


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Item], str]:
    """Uploaded captures of POOL: the pictures, and metadata as a model that found every person would
    write (the annotator's classes, a confidence that varies), count risks on RISKY."""
    root = tmp_path_factory.mktemp("captures")
    storage = FileStorage(root)
    truth = MotAnnotator(PETS_GT, IDENTITIES, CLASSES)
    rng = np.random.default_rng(0)
    items = []
    for frame, image in zip(POOL, video_frames(VTEST, start=9, count=len(POOL), step=10), strict=True):
        h, w = image.shape[:2]
        boxes = [
            {
                "class": CLASSES[b.cls],
                "confidence": round(float(rng.uniform(0.3, 0.95)), 3),
                "class_probs": [0.2, 0.5, 0.5]
                if rng.random() < 0.2
                else [0.2, *([0.9, 0.1] if b.cls == 1 else [0.1, 0.9])],
                "xyxy": list(b.xyxy(w, h)),
            }
            for b in truth.boxes(frame, w, h)
        ]
        risk = [{"line": "x240", "track_id": 1, "risks": ["short_track"]}] if frame in RISKY else []
        meta = {
            "frame": frame - 1,  # 0-based on the device
            "session": "s1",
            "width": w,
            "height": h,
            "class_names": CLASSES,
            "boxes": boxes,
            "count_risk": risk,
            "dhash": dhash(image),
        }
        key = CaptureKey("pets", "plaza", "2026-11-24", f"plaza-{frame:06d}")
        storage.put(key.image, cv2.imencode(".jpg", image)[1].tobytes())
        storage.put(key.meta, json.dumps(meta).encode())
        items.append(Item(key, 1.7e9 + frame, meta))
    return items, f"file://{root}"


@pytest.mark.parametrize("strategy", ["random", "uncertainty", "balanced", "count-aware", "all"])
def test_a_selection_becomes_a_training_set_of_the_chosen_pictures_with_the_annotators_labels(
    pool: tuple[list[Item], str], tmp_path: Path, strategy: str
) -> None:
    items, captures = pool
    records = to_records(items, CLASSES)
    choice = choose(records, strategy, 12, seed=0)
    assert len(choice.rows) == (len(POOL) if strategy == "all" else 12)
    seeds = seed_frames(4, 600)
    assert seeds == [1, 201, 400, 600]
    examples = [*video_examples(VTEST, seeds), *pool_examples(items, choice.rows.tolist(), captures)]
    annotator = MotAnnotator(PETS_GT, IDENTITIES, CLASSES)
    data = write_training_set(examples, annotator, tmp_path / "set")

    doc = json.loads(data.read_text())
    assert doc["train"] == doc["val"] == "images/train" and doc["names"] == CLASSES
    chosen = {int(items[r].meta["frame"]) + 1 for r in choice.rows.tolist()}
    images = sorted((tmp_path / "set" / "images" / "train").glob("*.jpg"))
    frames = {int(p.stem[1:]) for p in images}
    assert frames == chosen | set(seeds)  # frame 600 is a seed frame and a pool frame: one image
    assert max(frames) <= 600, "a held-out frame (601–795) reached a training set"
    storage = FileStorage(Path(captures.removeprefix("file://")))
    for r in choice.rows.tolist()[:3]:  # a pool frame's picture is the captured one, byte for byte
        frame = int(items[r].meta["frame"]) + 1
        assert (tmp_path / "set" / "images" / "train" / f"f{frame:06d}.jpg").read_bytes() == storage.get(
            items[r].image_key
        )[0]
    female = 0
    for frame in frames:  # every label is the ground truth of that frame, under the identity's class
        got = read_labels(tmp_path / "set" / "labels" / "train" / f"f{frame:06d}.txt", len(CLASSES))
        want = annotator.boxes(frame, 480, 360)
        assert [b.cls for b in got] == [b.cls for b in want]
        assert np.allclose([(b.cx, b.cy, b.w, b.h) for b in got], [(b.cx, b.cy, b.w, b.h) for b in want], atol=1e-6)
        assert 0 < len(got) <= (annotator.rows[:, 0] == frame).sum()
        female += sum(b.cls == CLASSES.index("female_adult") for b in got)
    if strategy == "count-aware":
        assert choice.reasons == {"count risk": len(RISKY), "uncertainty": 12 - len(RISKY)}
        assert chosen >= RISKY
    if strategy == "balanced":
        assert choice.terms_off.keys() <= {"disagreement"}  # no tracks here: the only term that is off
        assert "rare class" in choice.reasons


def test_balanced_labels_more_of_the_rare_class_than_random(pool: tuple[list[Item], str]) -> None:
    """On this pool (4 female of 19 identities; a model that found everyone), the rarity term makes
    ``balanced`` choose frames with more women in them than ``random`` does, for every seed tried."""
    items, _ = pool
    records = to_records(items, CLASSES)
    female = records.class_counts[:, CLASSES.index("female_adult")]
    for seed in range(5):
        balanced = female[choose(records, "balanced", 12, seed).rows].sum()
        random = female[choose(records, "random", 12, seed).rows].sum()
        assert balanced > random, seed


def test_the_annotator_refuses_classes_the_project_does_not_have() -> None:
    with pytest.raises(ValueError, match=r"classes \['female_adult', 'male_adult'\] are not among \['person'\]"):
        MotAnnotator(PETS_GT, IDENTITIES, ["person"])
