"""Scoring helpers: ground-truth crossings by person and frame, and the diff against counted ones."""

from __future__ import annotations

import numpy as np

from footfall.common.geometry import Line, Point
from footfall.edge.evaluation import crossing_diff, crossing_events, crossings

LINE = Line(Point(100, 0), Point(100, 360))  # "in" is left → right


def walk(identity: int, xs: list[float], first_frame: int = 1) -> list[list[float]]:
    """MOT rows of one person whose feet are at x = xs[k], y = 200 (box 20 × 50)."""
    return [[first_frame + k, identity, x - 10, 150, 20, 50] for k, x in enumerate(xs)]


def test_crossing_events_name_the_person_the_frame_and_the_direction() -> None:
    gt = np.array(walk(1, [80, 90, 105, 110]) + walk(2, [130, 95, 120], first_frame=10), float)
    events = crossing_events(gt, LINE)
    assert [(c.frame, c.identity, c.direction) for c in events] == [(3, 1, "in"), (11, 2, "out"), (12, 2, "in")]
    assert events[0].foot == (105.0, 200.0)
    assert crossings(gt, LINE) == {"in": 2, "out": 1}


def test_diff_finds_the_missed_person_and_the_extra_count() -> None:
    gt = np.array(walk(1, [80, 90, 105, 110]) + walk(2, [60, 70, 80, 90, 110, 120]), float)
    # the pipeline tracked person 1 as track 7 and counted it; it lost person 2 and
    # counted a crossing of its own far from any true one
    hyp = np.array(walk(7, [81, 91, 104, 111]) + walk(8, [300, 310], first_frame=40), float)
    counted = [(3, 7, "in"), (41, 8, "out")]
    diff = crossing_diff(crossing_events(gt, LINE), counted, gt, hyp)
    assert diff["missed"] == [{"frame": 5, "person": 2, "direction": "in", "foot": (110.0, 200.0)}]
    assert diff["extra"] == [{"frame": 41, "track": 8, "direction": "out", "person": None}]


def test_each_count_answers_its_own_person_first() -> None:
    # person 1 crosses at frame 3, person 2 at frame 5; both counts are near both crossings in time
    gt = np.array(
        walk(1, [80, 90, 105]) + [[f, 2, x - 10, 300, 20, 50] for f, x in enumerate([70, 80, 90, 95, 105], 1)]
    )
    hyp = np.array(
        walk(7, [80, 90, 105]) + [[f, 9, x - 10, 300, 20, 50] for f, x in enumerate([70, 80, 90, 95, 105], 1)]
    )
    # only person 2's crossing is counted (person 1's track never counts): person 1's is the miss
    diff = crossing_diff(crossing_events(gt, LINE), [(5, 9, "in")], gt, hyp)
    assert [m["person"] for m in diff["missed"]] == [1] and diff["extra"] == []


def test_a_count_on_the_wrong_box_still_answers_a_crossing_nearby() -> None:
    # two people side by side; the counted track's box sits on person 2 while person 1 crossed
    gt = np.array(walk(1, [80, 90, 105]) + [[f, 2, x - 10, 300, 20, 50] for f, x in ((1, 40), (2, 45), (3, 50))])
    hyp = np.array([[f, 7, x - 10, 300, 20, 50] for f, x in ((1, 40), (2, 45), (3, 50))], float)
    diff = crossing_diff(crossing_events(gt, LINE), [(4, 7, "in")], gt, hyp)
    assert diff == {"missed": [], "extra": []}
