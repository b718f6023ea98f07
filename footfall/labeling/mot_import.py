"""A YOLO dataset folder from a video and its MOTChallenge ground truth.

For sequences that are already labelled with identities (benchmarks, or a store's own annotated
clip): every ``every``-th frame becomes an image, its flag-1 boxes (clipped to the frame) become
YOLO labels. ``class_of`` gives each identity a class — with public data this is how a multi-class
variant is *constructed* (there is no public child/female/male set), and the caller must say so.
Frames from ``val_from_frame`` on go to the val split, so the split is by time, never by chance.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import yaml

from footfall.common.mot import load_mot, yolo_boxes
from footfall.common.yolo import YoloBox, write_labels


def yolo_from_mot(
    video: Path,
    gt: Path,
    out: Path,
    names: list[str],
    *,
    class_of: Callable[[int], str | None],
    every: int = 5,
    val_from_frame: int | None = None,
    prefix: str = "frame",
) -> dict[str, int]:
    """Write ``out`` (images/, labels/, data.yaml); return images per split.

    ``class_of(identity)`` returns a name of ``names``, or None to drop that identity's boxes.
    """
    rows = load_mot(gt)

    def index_of(identity: int) -> int | None:
        name = class_of(identity)
        return None if name is None else names.index(name)

    by_frame: dict[int, np.ndarray] = {int(f): rows[rows[:, 0] == f] for f in np.unique(rows[:, 0])}
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise ValueError(f"{video}: cannot open the video")
    counts = {"train": 0, "val": 0}
    frame_no = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frame_no += 1
            if (frame_no - 1) % every:
                continue
            split = "val" if val_from_frame is not None and frame_no >= val_from_frame else "train"
            h, w = frame.shape[:2]
            boxes = yolo_boxes(by_frame.get(frame_no, np.zeros((0, 6))), w, h, index_of)
            stem = f"{prefix}_{frame_no:06d}"
            (out / "images" / split).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out / "images" / split / f"{stem}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
            write_labels(out / "labels" / split / f"{stem}.txt", boxes)
            counts[split] += 1
    finally:
        cap.release()
    (out / "data.yaml").write_text(yaml.safe_dump({"names": list(names)}, sort_keys=False))
    return counts


UNSURE_POLICIES = ("lean", "drop")


def identity_classes(csv_path: Path, *, unsure: str = "lean") -> dict[int, str | None]:
    """Each identity's class from an identity table (``id,class,confidence,cue,…``, e.g. PETS09-S2L1's
    ``identity_classes.csv``).

    ``unsure`` says what an ``unsure`` identity becomes: ``lean`` — the class its cue leans to ("leans
    male" → male_adult, "leans female" → female_adult), what an annotator asked to pick the most likely
    class does; ``drop`` — None (its boxes are left out, and its frames then hold an unlabelled person).
    """
    import csv

    if unsure not in UNSURE_POLICIES:
        raise ValueError(f"unsure={unsure!r}: choose {' or '.join(UNSURE_POLICIES)}")
    out: dict[int, str | None] = {}
    with open(csv_path, newline="") as fh:
        for row in csv.DictReader(fh):
            cls: str | None = row["class"]
            if cls == "unsure":
                cue = row.get("cue", "").lower()
                lean = "female_adult" if "leans female" in cue else "male_adult" if "leans male" in cue else None
                cls = lean if unsure == "lean" else None
            out[int(row["id"])] = cls
    return out


class MotAnnotator:
    """A simulated annotator for a labelled sequence: asked about a frame (MOT number), it answers every
    ground-truth person in it (flag-1 rows, clipped to the picture) under its identity's class from an
    identity table — what a careful person labelling that frame would draw. Benchmarks and end-to-end
    tests use it in place of a person; ``unsure`` is as in :func:`identity_classes`."""

    def __init__(self, gt: Path, identities: Path, classes: list[str], *, unsure: str = "lean") -> None:
        self.rows = load_mot(gt)
        self.class_of = identity_classes(identities, unsure=unsure)
        self.classes = list(classes)
        unknown = {c for c in self.class_of.values() if c is not None and c not in self.classes}
        if unknown:
            raise ValueError(f"{identities}: classes {sorted(unknown)} are not among {self.classes}")

    def _index(self, identity: int) -> int | None:
        name = self.class_of.get(identity)
        return None if name is None else self.classes.index(name)

    def boxes(self, frame: int, width: int, height: int) -> list[YoloBox]:
        return yolo_boxes(self.rows[self.rows[:, 0] == frame], width, height, self._index)

    def label(self, frame: int, out: Path, width: int, height: int) -> None:
        """Write the answer for ``frame`` as a YOLO label file."""
        write_labels(out, self.boxes(frame, width, height))
