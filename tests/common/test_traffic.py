"""Where people walk near a line (issue #18's placement help): the walking angle, people's size, and
the warnings the installer gets."""

from __future__ import annotations

import numpy as np

from footfall.common.geometry import Line, Point
from footfall.common.mot import load_mot
from footfall.common.traffic import line_traffic
from footfall.edge.config import load_config
from tests.conftest import PETS_GT, ROOT


def walkers(direction: tuple[float, float], height: float = 60, people: int = 6) -> np.ndarray:
    """MOT rows of ``people`` walking through (200, 200) in ``direction``, 30 frames each."""
    dx, dy = direction
    rows = []
    for pid in range(1, people + 1):
        for f in range(30):
            fx, fy = 200 + (f - 15) * dx + pid, 200 + (f - 15) * dy + pid
            rows.append([f + 1, pid, fx - 10, fy - height, 20, height])
    return np.array(rows, dtype=float)


HORIZONTAL = Line(Point(100, 200), Point(300, 200))


def test_people_walking_across_a_line_give_no_warning() -> None:
    t = line_traffic(walkers((0, 4)), HORIZONTAL)
    assert t.walk_angle_deg is not None and t.walk_angle_deg > 85
    assert t.person_height_px == 60 and t.expected_accuracy == 0.95
    assert t.warnings("door") == []


def test_people_walking_along_a_line_are_warned_of_with_the_measured_figures() -> None:
    t = line_traffic(walkers((4, 1)), HORIZONTAL)
    assert t.walk_angle_deg is not None and 13 < t.walk_angle_deg < 15
    assert t.expected_accuracy == 0.90
    (warning,) = t.warnings("door")
    assert "line door: people walk nearly along it (14° to the line)" in warning and "90%" in warning


def test_small_people_and_an_empty_line() -> None:
    (warning,) = line_traffic(walkers((0, 4), height=30), HORIZONTAL).warnings("far")
    assert "people near it are 30 px tall" in warning
    nobody = line_traffic(walkers((0, 4)), Line(Point(400, 20), Point(460, 20)))
    assert (nobody.walk_angle_deg, nobody.person_height_px, nobody.expected_accuracy) == (None, None, None)
    assert nobody.warnings("empty") == []


def test_on_pets_only_the_line_people_walk_along_is_warned_of() -> None:
    """y200 runs with the plaza's main walking direction (18°); the others are crossed steeply."""
    gt = load_mot(PETS_GT)
    lines = load_config(ROOT / "configs" / "sample.yaml").cameras[0].lines
    warned = {lc.name for lc in lines if line_traffic(gt, lc.to_line()).warnings(lc.name)}
    assert warned == {"y200"}
