"""The mechanics of a label-savings experiment: a selection from the pool, answered by a simulated
annotator, becomes a YOLO training set (``bench/label_efficiency.py``; its test fixes them).

Nothing here trains or scores: it decides which pictures and which labels a training run gets, so the
experiment's fairness (what was seen, by whom) can be checked without timing anything.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from footfall.harvest.collect import Item
from footfall.harvest.select import Budget, Records, select
from footfall.labeling.mot_import import MotAnnotator
from footfall.registry.storage import open_storage


@dataclass(frozen=True)
class Example:
    """One picture to label: its MOT frame number and how to get the JPEG the annotator sees."""

    frame: int
    image: Callable[[], bytes]


@dataclass(frozen=True)
class Choice:
    """The pool rows a strategy chose, how many each reason chose, and the terms that were off."""

    rows: np.ndarray
    reasons: dict[str, int] = field(default_factory=dict)
    terms_off: dict[str, str] = field(default_factory=dict)


def seed_frames(count: int, last: int) -> list[int]:
    """``count`` MOT frame numbers spread evenly over 1..``last``: the first turn's labelled set."""
    return [int(v) for v in np.linspace(1, last, count).round()]


def choose(records: Records, strategy: str, budget: int, seed: int, background_share: float = 0.1) -> Choice:
    """``budget`` pool rows by ``strategy`` (the harvester's own selection); ``all`` takes the whole pool."""
    if strategy == "all":
        return Choice(np.arange(len(records)), {"all": len(records)})
    chosen = select(records, Budget(budget, background_share=background_share), strategy, seed)
    return Choice(chosen.index, dict(Counter(chosen.reasons)), chosen.terms_off)


def video_examples(video: Path, frames: Sequence[int], quality: int = 95) -> list[Example]:
    """Frames ``frames`` (MOT numbers) of a video file, read in one pass, as JPEGs."""
    wanted, found = set(frames), dict[int, bytes]()
    cap = cv2.VideoCapture(str(video))
    try:
        number = 0
        while len(found) < len(wanted):
            ok, image = cap.read()
            if not ok:
                break
            number += 1
            if number in wanted:
                found[number] = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
    finally:
        cap.release()
    if missing := sorted(wanted - set(found)):
        raise ValueError(f"{video}: no frames {missing}")
    return [Example(f, _constant(found[f])) for f in frames]


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def pool_examples(items: Sequence[Item], rows: Sequence[int], captures: str) -> list[Example]:
    """The captured pictures of pool rows ``rows`` (as uploaded by the device), in that order."""
    storage = open_storage(captures)

    def picture(key: str) -> Callable[[], bytes]:
        return lambda: storage.get(key)[0]

    return [Example(int(items[r].meta["frame"]) + 1, picture(items[r].image_key)) for r in rows]


def write_training_set(examples: Sequence[Example], annotator: MotAnnotator, out: Path) -> Path:
    """A YOLO folder of ``examples`` answered by ``annotator``; returns its data.yaml. Its val split is the
    training images, so yolov5 chooses its best epoch on them and never on held-out frames. A frame given
    twice is one image."""
    images, labels = out / "images" / "train", out / "labels" / "train"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    for ex in {ex.frame: ex for ex in examples}.values():
        target = images / f"f{ex.frame:06d}.jpg"
        target.write_bytes(ex.image())
        picture = cv2.imread(str(target))
        if picture is None:
            raise ValueError(f"frame {ex.frame}: not a readable picture")
        h, w = picture.shape[:2]
        annotator.label(ex.frame, labels / f"f{ex.frame:06d}.txt", w, h)
    data = out / "data.yaml"
    doc = {"path": str(out), "train": "images/train", "val": "images/train", "names": annotator.classes}
    data.write_text(json.dumps(doc))
    return data
