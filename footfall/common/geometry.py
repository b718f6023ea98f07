"""Counting-line geometry in source-frame pixels."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Point:
    """A point in source-frame pixels (x to the right, y down)."""

    x: float
    y: float


class Anchor(enum.StrEnum):
    """Which point of a box decides its side of a line.

    People walk on a floor, so the bottom centre (their feet) is the default: it does not jump when
    the upper body is hidden behind a shelf or the box height flickers.
    """

    BOTTOM_CENTER = "bottom_center"
    CENTER = "center"
    TOP_CENTER = "top_center"

    def points(self, xyxy: np.ndarray) -> np.ndarray:
        """(N, 2) anchor points of (N, 4) boxes."""
        cx = (xyxy[:, 0] + xyxy[:, 2]) / 2
        if self is Anchor.BOTTOM_CENTER:
            y = xyxy[:, 3]
        elif self is Anchor.TOP_CENTER:
            y = xyxy[:, 1]
        else:
            y = (xyxy[:, 1] + xyxy[:, 3]) / 2
        return np.column_stack([cx, y])


@dataclass(frozen=True)
class Line:
    """A directed counting segment from ``start`` to ``end``.

    The "in" side is the one the start→end vector points to after a 90° counter-clockwise turn as
    seen on screen: for a line drawn top to bottom, "in" is left → right; drawn left to right, "in"
    is bottom → top. ``invert`` swaps the two.
    """

    start: Point
    end: Point
    invert: bool = False

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError(f"Line start and end must differ, got both {self.start}")

    @property
    def length(self) -> float:
        return float(np.hypot(self.end.x - self.start.x, self.end.y - self.start.y))

    @property
    def in_normal(self) -> tuple[float, float]:
        """Unit vector pointing to the "in" side (the direction of travel counted as in)."""
        dx, dy = (self.end.x - self.start.x) / self.length, (self.end.y - self.start.y) / self.length
        return (-dy, dx) if self.invert else (dy, -dx)

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Distance in pixels of (N, 2) points from the infinite line; positive on the "in" side."""
        dx, dy = self.end.x - self.start.x, self.end.y - self.start.y
        cross = dx * (points[:, 1] - self.start.y) - dy * (points[:, 0] - self.start.x)
        # In image coordinates (y down) a negative cross product is the side the CCW-turned vector
        # points to, which is our "in" side.
        sign = 1.0 if self.invert else -1.0
        return sign * cross / self.length

    def segment_crossed(self, a: Point, b: Point) -> bool:
        """Whether the path a → b passes through the segment (ends included)."""
        sx, sy = self.start.x, self.start.y
        ex, ey = self.end.x, self.end.y
        rx, ry = ex - sx, ey - sy
        px, py = b.x - a.x, b.y - a.y
        denom = rx * py - ry * px
        if denom == 0:
            return False
        # t: where along the counting segment the two meet; u: where along the path.
        t = ((a.x - sx) * py - (a.y - sy) * px) / denom
        u = ((a.x - sx) * ry - (a.y - sy) * rx) / denom
        return 0.0 <= t <= 1.0 and 0.0 <= u <= 1.0


BORDER_WIDTHS = 0.5  # detectors lose a person within about half a box width of the picture's edge


def touches_border(xyxy: np.ndarray, frame_hw: tuple[int, int], border_widths: float = BORDER_WIDTHS) -> bool:
    """Whether a box lies within ``border_widths`` of its own widths of the picture's edge.

    Detectors lose people before they are fully out of view, so such a box may be leaving or entering
    the view; anywhere else, a track that starts or ends was hidden. The top edge counts only for
    feet far up the picture (someone walking away); a box cut at the top with its feet lower down is
    a person close to the camera, in view.
    """
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    h, w = frame_hw
    m = border_widths * (x2 - x1)
    return x1 < m or x2 > w - m or y2 > h - m or (y1 < m and y2 < h / 4)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of two sets of x1, y1, x2, y2 boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
