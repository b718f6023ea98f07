"""Counting on a family of random lines (issue #18): the segment ground truth, the seeded family, and
the aggregate the device's pipeline reaches on PETS09-S2L1 (kept from falling)."""

from __future__ import annotations

import numpy as np
import pytest

from footfall.common.geometry import Line, Point
from footfall.common.mot import load_mot
from footfall.edge.config import load_config
from footfall.edge.evaluation import (
    LineFamily,
    evaluate_line_family,
    evaluate_tracks_on_family,
    family_accuracy,
    segment_crossing_events,
    sequence_config,
)
from tests.conftest import DATA, PETS_GT, ROOT, VTEST

VERTICAL = Line(Point(100, 100), Point(100, 200))  # "in" is left → right


def walk(ident: int, feet: list[tuple[float, float]]) -> np.ndarray:
    """MOT rows (frame, id, x, y, w, h) of a 20×40 px person whose foot point follows ``feet``."""
    return np.array([[k + 1, ident, x - 10, y - 40, 20, 40] for k, (x, y) in enumerate(feet)], dtype=float)


def test_a_walk_through_the_segment_is_one_crossing_each_way() -> None:
    rows = np.vstack([walk(1, [(80, 150), (95, 150), (105, 150), (120, 150)]), walk(2, [(130, 120), (70, 121)])])
    got = [(c.identity, c.direction) for c in segment_crossing_events(rows, VERTICAL)]
    assert sorted(got) == [(1, "in"), (2, "out")]


def test_jitter_on_the_line_and_walks_past_its_end_are_no_crossings() -> None:
    jitter = walk(1, [(98, 150), (102, 152), (99, 154), (101, 156), (98, 158)])  # inside the ±3 px band
    past_the_end = walk(2, [(80, 260), (120, 262)])  # crosses the infinite line below the segment
    along = walk(3, [(97, 110), (102, 130), (98, 150), (103, 170)])
    assert segment_crossing_events(np.vstack([jitter, past_the_end, along]), VERTICAL) == []


def test_a_u_turn_through_the_segment_is_two_crossings() -> None:
    rows = walk(1, [(80, 150), (110, 150), (85, 150)])
    assert [c.direction for c in segment_crossing_events(rows, VERTICAL)] == ["in", "out"]


def test_the_family_is_seeded_and_inside_its_region() -> None:
    family = LineFamily(count=30, seed=7, region=(40, 110, 460, 350), min_length=80)
    lines = family.lines()
    assert [ln.name for ln in lines] == [f"r{k:02d}" for k in range(30)]
    assert lines == family.lines() and lines != LineFamily(count=30, seed=8).lines()
    for ln in lines:
        (ax, ay), (bx, by) = ln.points
        assert all(40 <= x <= 460 and 110 <= y <= 350 for x, y in ln.points)
        assert np.hypot(bx - ax, by - ay) >= 80 - 0.2


def test_family_accuracy_sums_both_directions_of_every_line() -> None:
    per_line = {
        "a": {"truth": {"in": 10, "out": 10}, "counted": {"in": 12, "out": 9}},
        "b": {"truth": {"in": 0, "out": 5}, "counted": {"in": 1, "out": 5}},
    }
    assert family_accuracy(per_line) == {"accuracy": 0.84, "wrong": 4, "crossings": 25, "worst_line_error": 2}


@pytest.mark.slow
def test_the_sample_pipeline_holds_on_a_family_of_random_lines() -> None:
    """Seed 0, 24 lines over the walkable region (the truth's foot points, 1st–99th percentile). The
    sample settings were chosen on this clip's four lines; ``counting.confirm_share`` was chosen looking
    at this family too (in-sample): the floor is what the pipeline reaches today (docs/experiments.md),
    kept from falling."""
    device = load_config(ROOT / "configs" / "sample.yaml")
    cfg = sequence_config(device, "pets", VTEST, device.cameras[0].lines)
    result = evaluate_line_family(cfg, PETS_GT, LineFamily(24, 0, (40, 110, 460, 350), 80))
    assert result["crossings"] == 202  # the family's truth: a change here means the family changed
    assert result["accuracy"] >= FLOOR, result["accuracy"]
    assert result["worst_line_error"] <= 2


FLOOR = 0.945  # 0.9455: 0.9406 while a path round a segment's end within 3 px counted (docs/experiments.md)


@pytest.mark.slow
def test_the_sample_pipeline_holds_on_480_lines_it_was_not_chosen_on() -> None:
    """A family no setting was chosen on (seed 1, 480 lines, 5,281 true crossings), counted in one run:
    0.9135 without ``confirm_share``, 0.9241 with it, 0.9424 since a path round a segment's end is no
    crossing (docs/experiments.md); kept from falling."""
    device = load_config(ROOT / "configs" / "sample.yaml")
    cfg = sequence_config(device, "pets", VTEST, device.cameras[0].lines)
    result = evaluate_line_family(cfg, PETS_GT, LineFamily(480, 1, (40, 110, 460, 350), 80))
    assert result["crossings"] == 5281
    assert result["accuracy"] >= 0.942, result["accuracy"]


TUD = DATA / "mot" / "motmetrics_TUD"
PETS_REGION = (40.0, 110.0, 460.0, 350.0)


@pytest.mark.parametrize(
    ("gt_path", "fps", "frame_hw", "region"),
    [
        (PETS_GT, 10.0, (360, 480), PETS_REGION),
        (TUD / "TUD-Campus" / "gt.txt", 25.0, (480, 640), (20.0, 20.0, 620.0, 460.0)),
        (TUD / "TUD-Stadtmitte" / "gt.txt", 25.0, (480, 640), (20.0, 20.0, 620.0, 460.0)),
    ],
    ids=["PETS09-S2L1", "TUD-Campus", "TUD-Stadtmitte"],
)
def test_on_perfect_tracks_the_counter_counts_exactly_what_the_truth_counts(
    gt_path: object, fps: float, frame_hw: tuple[int, int], region: tuple[float, float, float, float]
) -> None:
    """The device's counter fed the annotated tracks themselves, with the two rules made for imperfect
    tracks off (``confirm_share`` and ``entry_backtrack_s``: 0), counts every line of every family
    exactly as :func:`segment_crossing_events` does — on PETS and on two scenes whose ground truth no
    counting rule was chosen on. What remains between a device and the truth is then the tracks and
    those two rules, not the geometry (before a path round a segment's end within 3 px counted:
    0.9625 on PETS here)."""
    gt = load_mot(gt_path)  # type: ignore[arg-type]
    device = load_config(ROOT / "configs" / "sample.yaml").counting
    bare = device.model_copy(update={"confirm_share": 0.0, "entry_backtrack_s": 0.0})
    for seed in range(3):
        family = LineFamily(24, seed, region, 80)
        result = evaluate_tracks_on_family(gt, gt, family, bare, fps=fps, frame_hw=frame_hw)
        assert result["crossings"] > 0 and result["wrong"] == 0, (seed, result["wrong"], result["crossings"])


def test_the_sample_counting_rules_cost_little_on_perfect_tracks_of_lines_they_were_not_chosen_on() -> None:
    """``confirm_share`` and the run-back exist for a detector's jitter and a tracker's gaps; on the
    annotated tracks they cost 81 of 4,903 crossings over families 20–39 (0.9835; none of these
    families chose a rule). Kept from growing."""
    gt = load_mot(PETS_GT)
    counting = load_config(ROOT / "configs" / "sample.yaml").counting
    wrong = total = 0
    for seed in range(20, 40):
        result = evaluate_tracks_on_family(
            gt, gt, LineFamily(24, seed, PETS_REGION, 80), counting, fps=10.0, frame_hw=(360, 480)
        )
        wrong, total = wrong + result["wrong"], total + result["crossings"]
    assert total == 4903 and 1 - wrong / total >= 0.98, (wrong, total)
