"""Where people walk near a counting line, from MOT rows: a labelled video's ground truth (the line
family evaluator) or a device's own recent tracks (placement advice for the installer).

A line nearly parallel to the direction people walk is crossed at a shallow angle, where a few pixels of
box placement decide whether a step crosses it: on random PETS09-S2L1 lines counted by the sample
pipeline (480 lines, seed 1, docs/experiments.md) lines within 30° of the walking direction were counted
0.90 right, steeper ones 0.95 (0.88 and 0.94 before a path round a line's end stopped counting).
Those figures are this one scene's; they are shown as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from footfall.common.geometry import Line

NEAR_PX = 40.0  # a foot step within this distance of the segment (and beside it) is traffic of the line
MIN_STEPS = 5  # fewer moving steps near a line say nothing about it
SHALLOW_DEG = 30.0
# (upper bound of the angle to the walking direction, accuracy measured on such lines): see the docstring
MEASURED_BY_ANGLE = ((SHALLOW_DEG, 0.90), (90.01, 0.95))
SMALL_PX = 40.0  # people shorter than this near a line: below the sizes any figure here was measured at


def by_track(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MOT rows ``frame, id, x, y, w, h`` ordered by identity, then frame, and their foot points
    (x + w/2, y + h)."""
    rows = rows[np.lexsort((rows[:, 0], rows[:, 1]))]
    return rows, np.column_stack([rows[:, 2] + rows[:, 4] / 2, rows[:, 3] + rows[:, 5]])


@dataclass(frozen=True)
class LineTraffic:
    """The walking direction and people's size near one segment; None where nobody walked near it."""

    walk_angle_deg: float | None  # 0–90: the angle between the segment and the axis people walk along
    person_height_px: float | None  # median box height of the people near it
    steps: int  # moving foot steps seen near it

    @property
    def expected_accuracy(self) -> float | None:
        """The accuracy measured on lines at this angle to the walking direction (one scene's figure)."""
        if self.walk_angle_deg is None:
            return None
        return next(acc for bound, acc in MEASURED_BY_ANGLE if self.walk_angle_deg < bound)

    def warnings(self, name: str) -> list[str]:
        out = []
        if self.walk_angle_deg is not None and self.walk_angle_deg < SHALLOW_DEG:
            out.append(
                f"line {name}: people walk nearly along it ({self.walk_angle_deg:.0f}° to the line): on such "
                f"lines counts were {MEASURED_BY_ANGLE[0][1]:.0%} right against {MEASURED_BY_ANGLE[1][1]:.0%} on "
                "lines they walk across; turn it across the way people walk"
            )
        if self.person_height_px is not None and self.person_height_px < SMALL_PX:
            out.append(
                f"line {name}: people near it are {self.person_height_px:.0f} px tall, smaller than any scene "
                "measured here: their boxes and feet are unreliable; move it nearer the camera"
            )
        return out


def line_traffic(rows: np.ndarray, line: Line, near_px: float = NEAR_PX) -> LineTraffic:
    """The traffic near ``line`` from MOT rows (from one row of an identity to its next is one step)."""
    if len(rows) < 2:
        return LineTraffic(None, None, 0)
    rows, feet = by_track(rows)
    same = rows[1:, 1] == rows[:-1, 1]
    step = (feet[1:] - feet[:-1])[same]
    mid = ((feet[1:] + feet[:-1]) / 2)[same]
    heights = ((rows[1:, 5] + rows[:-1, 5]) / 2)[same]
    ax, ay, bx, by = line.start.x, line.start.y, line.end.x, line.end.y
    ux, uy = (bx - ax) / line.length, (by - ay) / line.length
    t = (mid[:, 0] - ax) * ux + (mid[:, 1] - ay) * uy
    near = (np.abs(line.signed_distance(mid)) < near_px) & (t >= 0) & (t <= line.length)
    moving = np.hypot(step[:, 0], step[:, 1]) > 0.5
    s = step[near & moving]
    if len(s) < MIN_STEPS:
        return LineTraffic(None, None, len(s))
    # the mean axis of motion (directions folded: walking either way is the same axis)
    theta = np.arctan2(s[:, 1], s[:, 0])
    axis = 0.5 * np.arctan2(np.mean(np.sin(2 * theta)), np.mean(np.cos(2 * theta)))
    diff = abs(np.degrees(axis - np.arctan2(uy, ux))) % 180
    return LineTraffic(float(min(diff, 180 - diff)), float(np.median(heights[near & moving])), len(s))
