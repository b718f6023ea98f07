import numpy as np
import pytest

from footfall.edge.types import CrossingEvent, Detections, Direction, Tracks


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"xyxy": np.zeros((2, 3)), "confidence": np.zeros(2), "class_id": np.zeros(2)},
            r"xyxy must have shape \(N, 4\), got \(2, 3\)",
        ),
        (
            {"xyxy": np.zeros((2, 4)), "confidence": np.zeros(3), "class_id": np.zeros(2)},
            r"confidence must have shape \(2\), got \(3,\)",
        ),
        (
            {
                "xyxy": np.zeros((2, 4)),
                "confidence": np.zeros(2),
                "class_id": np.zeros(2),
                "class_probs": np.zeros((3, 2)),
            },
            r"class_probs must have shape \(2, N\)",
        ),
    ],
)
def test_detections_validate_shapes(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Detections(**kwargs)


def test_detections_do_not_alias_caller_arrays() -> None:
    boxes = np.array([[0, 0, 10, 10]], float)
    det = Detections(boxes, [0.5], [0])
    boxes[0, 0] = 99
    assert det.xyxy[0, 0] == 0
    with pytest.raises(ValueError):
        det.xyxy[0, 0] = 1  # read-only


def test_tracks_default_det_index() -> None:
    t = Tracks(np.zeros((2, 4)), [1, 2], [0.5, 0.5], [0, 0])
    assert t.det_index.tolist() == [-1, -1]


def test_uturn_event_needs_first_direction() -> None:
    with pytest.raises(ValueError, match="first_direction"):
        CrossingEvent("c", "l", 1, 0, 0.0, "person", Direction.UTURN)
