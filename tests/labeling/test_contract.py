from __future__ import annotations

import pytest

from footfall.labeling.contract import (
    LabelMismatch,
    boxes_of,
    check_labels,
    final_annotation,
    label_config,
    labels_of,
    ls_to_yolo,
    prediction,
    yolo_to_ls,
)

THREE = ["child", "female_adult", "male_adult"]


@pytest.mark.parametrize(
    ("yolo", "ls"),
    [
        ((0.5, 0.5, 1.0, 1.0), (0.0, 0.0, 100.0, 100.0)),
        ((0.25, 0.75, 0.1, 0.2), (20.0, 65.0, 10.0, 20.0)),
        ((0.05, 0.05, 0.1, 0.1), (0.0, 0.0, 10.0, 10.0)),
    ],
)
def test_coordinate_conversion_both_ways(yolo: tuple, ls: tuple) -> None:
    assert yolo_to_ls(*yolo) == pytest.approx(ls)
    assert ls_to_yolo(*ls) == pytest.approx(yolo)


def test_boxes_outside_the_image_are_clipped() -> None:
    assert ls_to_yolo(-10, 90, 30, 20) == pytest.approx((0.1, 0.95, 0.2, 0.1))


def test_label_config_round_trips_and_escapes() -> None:
    config = label_config([*THREE, 'a "quoted" & <odd> one'])
    assert labels_of(config) == [*THREE, 'a "quoted" & <odd> one']
    assert labels_of("<View/>") == [] and labels_of("not xml") == []
    assert labels_of(label_config(THREE)) == THREE
    with pytest.raises(ValueError, match="without repeats"):
        label_config(["a", "a"])


def test_label_mismatch_lists_both_sets_and_the_fix() -> None:
    with pytest.raises(LabelMismatch, match=r"labels \['person'\] differ from the model's classes \['child'.*Fix:"):
        check_labels(["person"], THREE)


def test_prediction_carries_model_version_and_scores() -> None:
    boxes = [
        {"class": "child", "confidence": 0.61, "xyxy": [10, 20, 30, 60]},
        {"class": "male_adult", "confidence": 0.9, "xyxy": [100, 0, 200, 100]},
    ]
    pred = prediction(boxes, THREE, 400, 200, "people:3")
    assert pred["model_version"] == "people:3" and pred["score"] == 0.61
    first = pred["result"][0]
    assert first["score"] == 0.61 and first["value"]["rectanglelabels"] == ["child"]
    assert (
        first["value"]["x"],
        first["value"]["y"],
        first["value"]["width"],
        first["value"]["height"],
    ) == pytest.approx((2.5, 10.0, 5.0, 20.0))
    assert [b.cls for b in boxes_of(pred["result"], THREE)] == [0, 2]
    with pytest.raises(LabelMismatch, match="'person' is not among"):
        prediction([{"class": "person", "confidence": 0.5, "xyxy": [0, 0, 1, 1]}], THREE, 10, 10, "v")


def test_final_annotation_skips_cancelled_and_takes_the_latest() -> None:
    assert final_annotation({"annotations": []}) is None
    assert final_annotation({"annotations": [{"id": 1, "was_cancelled": True}]}) is None
    task = {
        "annotations": [
            {"id": 1, "updated_at": "2026-11-25T10:00", "result": []},
            {"id": 2, "updated_at": "2026-11-25T11:00", "result": [1]},
            {"id": 3, "updated_at": "2026-11-25T12:00", "was_cancelled": True},
        ]
    }
    assert final_annotation(task)["id"] == 2
