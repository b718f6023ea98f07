"""MOTChallenge files: rows ``frame, id, x, y, w, h[, flag, class, visibility]`` (frames 1-based, pixels).

One reader for ground truth and for the tracks a device captures, and one conversion of MOT boxes
to YOLO boxes (clipped to the frame) for every dataset built from them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from footfall.common.yolo import YoloBox


def load_mot(path: Path, *, only_flagged: bool = True) -> np.ndarray:
    """Rows ``frame, id, x, y, w, h`` (float64) of a MOT file; ``only_flagged`` keeps flag-1 rows of GT."""
    data = np.loadtxt(path, delimiter=",", ndmin=2)
    if only_flagged and data.shape[1] >= 7:
        data = data[data[:, 6] == 1]
    return data[:, :6]


def yolo_boxes(
    rows: np.ndarray, width: int, height: int, class_of: Callable[[int], int | None], *, min_px: float = 2
) -> list[YoloBox]:
    """YOLO boxes of MOT rows ``frame, id, x, y, w, h`` of one frame, clipped to the frame.

    ``class_of(identity)`` gives the class index, or None to drop that identity; boxes narrower or
    lower than ``min_px`` after clipping are dropped (people at the picture's edge).
    """
    out = []
    for _, ident, x, y, bw, bh in rows[:, :6].tolist():
        cls = class_of(int(ident))
        if cls is None:
            continue
        x1, y1 = max(0.0, x), max(0.0, y)
        x2, y2 = min(float(width), x + bw), min(float(height), y + bh)
        if x2 - x1 < min_px or y2 - y1 < min_px:
            continue
        out.append(YoloBox.from_xyxy(cls, x1, y1, x2, y2, width, height))
    return out
