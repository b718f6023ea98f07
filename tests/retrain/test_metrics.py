from __future__ import annotations

import math

import numpy as np
import pytest

from footfall.retrain.metrics import ImageResult, average_precision, box_iou, evaluate, match

BOX = [10, 10, 50, 90]
SHIFTED = [14, 10, 54, 90]  # IoU with BOX = 36*80 / (2*40*80 - 36*80) = 0.818


def image(preds: list[tuple[list[float], float, int]], gts: list[tuple[list[float], int]]) -> ImageResult:
    return ImageResult(
        np.array([p[0] for p in preds]).reshape(-1, 4),
        [p[1] for p in preds],
        [p[2] for p in preds],
        np.array([g[0] for g in gts]).reshape(-1, 4),
        [g[1] for g in gts],
    )


def test_box_iou_known_values() -> None:
    iou = box_iou(np.array([BOX, [100, 100, 110, 110]], float), np.array([SHIFTED], float))
    assert iou[0, 0] == pytest.approx(36 * 80 / (2 * 40 * 80 - 36 * 80))
    assert iou[1, 0] == 0


@pytest.mark.parametrize(
    ("preds", "gts", "ap50"),
    [
        pytest.param([(BOX, 0.9, 0)], [(BOX, 0)], 1.0, id="perfect"),
        pytest.param([], [(BOX, 0)], 0.0, id="nothing-found"),
        pytest.param([(BOX, 0.9, 1)], [(BOX, 0)], 0.0, id="wrong-class"),
        # one of two people found with precision 1: recall 0.5 → 51 of 101 points at precision 1
        pytest.param([(BOX, 0.9, 0)], [(BOX, 0), ([200, 10, 240, 90], 0)], 51 / 101, id="half-recall"),
        # a false positive ranked above the true one: precision 0.5 at recall 1
        pytest.param([([300, 300, 340, 380], 0.95, 0), (BOX, 0.9, 0)], [(BOX, 0)], 0.5, id="fp-first"),
        # a duplicate of a matched box is a false positive but comes after it: AP stays 1
        pytest.param([(BOX, 0.9, 0), (SHIFTED, 0.8, 0)], [(BOX, 0)], 1.0, id="duplicate-after"),
    ],
)
def test_ap50_table(preds, gts, ap50: float) -> None:
    metrics = evaluate([image(preds, gts)], ["a", "b"], conf_threshold=0.5)
    assert metrics.per_class["a"]["ap50"] == pytest.approx(ap50)
    assert metrics.map50 == pytest.approx(ap50)  # class b has no ground truth: left out of the mean
    assert math.isnan(metrics.per_class["b"]["ap50"])


def test_iou_thresholds_drive_map50_95() -> None:
    # IoU 0.818 is a hit at 0.50 … 0.80 (7 of 10 thresholds), a miss at 0.85 … 0.95
    tp = match(image([(SHIFTED, 0.9, 0)], [(BOX, 0)]))
    assert tp[0].tolist() == [True] * 7 + [False] * 3
    metrics = evaluate([image([(SHIFTED, 0.9, 0)], [(BOX, 0)])], ["a"], 0.5)
    assert metrics.map50_95 == pytest.approx(0.7)


def test_precision_recall_at_deployed_threshold() -> None:
    img = image(
        [(BOX, 0.9, 0), ([200, 10, 240, 90], 0.3, 0), ([300, 300, 340, 380], 0.6, 0)],
        [(BOX, 0), ([200, 10, 240, 90], 0)],
    )
    metrics = evaluate([img], ["a"], conf_threshold=0.5)
    # at 0.5: kept = 0.9 (hit) and 0.6 (miss) → precision 0.5, recall 1/2
    assert metrics.precision == pytest.approx(0.5)
    assert metrics.recall == pytest.approx(0.5)
    assert metrics.per_class["a"]["instances"] == 2


def test_ap_is_order_invariant_across_images() -> None:
    a = image([(BOX, 0.9, 0)], [(BOX, 0)])
    b = image([([300, 300, 340, 380], 0.95, 0)], [])
    assert evaluate([a, b], ["a"], 0.5).map50 == evaluate([b, a], ["a"], 0.5).map50 == pytest.approx(0.5)


def test_average_precision_without_ground_truth_is_nan() -> None:
    assert np.isnan(average_precision(np.zeros((1, 10), bool), np.array([0.5]), 0)).all()


def test_image_result_rejects_mismatched_rows() -> None:
    with pytest.raises(ValueError, match="pred_xyxy, pred_conf, pred_cls have 1, 2, 1 rows"):
        ImageResult(np.zeros((1, 4)), [0.1, 0.2], [0], np.zeros((0, 4)), [])
