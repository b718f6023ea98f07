"""The tracker registry, each entry run on real detections, and state hand-over."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from footfall.edge.config import ModelConfig
from footfall.edge.detectors import create_detector
from footfall.edge.tracking import NEEDS_REID, TRACKERS, create_tracker
from tests.conftest import VTEST


@pytest.fixture(scope="module")
def clip(yolov5n_onnx: Path) -> list[tuple[np.ndarray, object]]:
    det = create_detector(ModelConfig(path=yolov5n_onnx, input_size=480))
    cap = cv2.VideoCapture(str(VTEST))
    frames = []
    for _ in range(24):
        ok, frame = cap.read()
        assert ok
        frames.append((frame, det.detect(frame)))
    return frames


@pytest.mark.parametrize("name", sorted(TRACKERS))
def test_every_tracker_tracks_people(name: str, clip: list, osnet_onnx: Path) -> None:
    tracker = create_tracker(name, reid_weights=osnet_onnx if name in NEEDS_REID else None)
    out = [tracker.update(dets, frame) for frame, dets in clip]
    ids = {int(i) for t in out[-10:] for i in t.track_id}
    assert len(out[-1]) >= 3, "PETS frame 24 shows at least three people"
    assert len(ids) <= 12
    # identities persist: most ids of the last frame were already there five frames earlier
    assert len(set(out[-1].track_id.tolist()) & set(out[-6].track_id.tolist())) >= 2


@pytest.mark.parametrize("name", sorted(TRACKERS))
def test_state_hand_over_continues_identically(name: str, clip: list, osnet_onnx: Path) -> None:
    reid = osnet_onnx if name in NEEDS_REID else None
    a = create_tracker(name, {"reid_refresh_frames": 3} if reid else None, reid_weights=reid)
    for frame, dets in clip[:12]:
        a.update(dets, frame)
    b = create_tracker(name, {"reid_refresh_frames": 3} if reid else None, reid_weights=reid)
    b.set_state(a.get_state())
    for frame, dets in clip[12:]:
        ta, tb = a.update(dets, frame), b.update(dets, frame)
        np.testing.assert_array_equal(ta.track_id, tb.track_id)
        np.testing.assert_allclose(ta.xyxy, tb.xyxy)


def test_unknown_tracker_lists_the_available_ones() -> None:
    with pytest.raises(
        ValueError, match=r"Unknown tracker 'sort'\. Available: boxmot-bytetrack, bytetrack, ocsort, strongsort"
    ):
        create_tracker("sort")


def test_unknown_param_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown keys \['max_agee'\]"):
        create_tracker("bytetrack", {"max_agee": 3})


def test_strongsort_without_reid_weights_says_so() -> None:
    with pytest.raises(ValueError, match="reid_weights"):
        create_tracker("strongsort")


@pytest.mark.slow
def test_sample_configuration_on_pets_tracking_and_counts(yolov5n_onnx: Path, tmp_path: Path) -> None:
    """Issue #2's targets on all 795 frames with the shipped sample settings (every crossing counted).

    Tracking: IDF1 >= 0.80 (the naive reference, yolov5n + StrongSORT of the shared/data README,
    scores 0.664 with 61 switches). Counts: measured 4.8 % mean error over the four lines, every
    direction within one crossing of the truth (docs/experiments.md); this holds them there. The
    sample's U-turn window (2 s) is on: each U-turn counts as its two crossings, as the truth does.
    """
    from footfall.edge.config import load_config
    from footfall.edge.evaluation import evaluate_sequence, sequence_config
    from tests.conftest import PETS_GT

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "sample.yaml")
    cfg = sequence_config(cfg, "plaza", VTEST, cfg.cameras[0].lines, path=yolov5n_onnx)
    scores = evaluate_sequence(cfg, PETS_GT)
    print({k: scores[k] for k in ("mota", "idf1", "id_switches", "track_ids", "count_error_pct")})
    assert scores["idf1"] >= 0.80
    assert scores["id_switches"] < 61 and scores["track_ids"] <= 2 * 19
    for name, line in scores["lines"].items():
        for d in ("in", "out"):
            assert abs(line["counted"][d] - line["truth"][d]) <= 1, (name, d, line["missed"], line["extra"])
    assert scores["count_error_pct"] < 5.0


@pytest.mark.slow
def test_sample_settings_count_a_held_out_indoor_scene(yolov5n_onnx: Path, tmp_path: Path) -> None:
    """The sample settings on a scene nothing was tuned on: exact counts at an entrance and an exit.

    ``one-by-one-person-detection.mp4`` (768×432, 1394 frames, indoor): six people, one at a time,
    walk in from the picture's bottom edge to a table and leave through its right edge. That truth
    was read off the video frame by frame (every 5th frame where nobody stands at the table). Each
    person crosses the entrance line (y = 415 between x = 200 and 600) upwards once — "in" — and the
    exit line (x = 600 below y = 200) left to right once — "in" for a line drawn downwards. Nobody
    walks back, so any "out" or U-turn is a false count. (Entries here start at the picture's edge,
    so the occlusion-entry rule has nothing to recover; the PETS test above covers it.)
    """
    from footfall.edge.build import build_camera
    from footfall.edge.config import CameraConfig, load_config
    from footfall.edge.pipeline import run_camera
    from footfall.edge.store import CountStore
    from tests.conftest import HELD_OUT_LINES, ONE_BY_ONE

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "sample.yaml")
    cam = CameraConfig.model_validate({"name": "shop", "source": str(ONE_BY_ONE), "lines": HELD_OUT_LINES})
    cfg = cfg.model_copy(
        update={
            "model": cfg.model.model_copy(update={"path": yolov5n_onnx}),
            "storage": cfg.storage.model_copy(update={"db": tmp_path / "shop.db"}),
        }
    )
    parts = build_camera(cfg, cam)
    ids: set[int] = set()
    with CountStore(tmp_path / "shop.db") as store:
        run_camera(
            parts,
            camera=cam.name,
            session="held-out",
            store=store,
            on_tracks=lambda _f, _d, tracks: ids.update(tracks.track_id.tolist()),
        )
        counts = store.session_counts("held-out")
    got = {line: {d: sum(counts.get(line, {}).get(d, {}).values()) for d in ("in", "out", "uturn")} for line in counts}
    assert got == {"entrance": {"in": 6, "out": 0, "uturn": 0}, "exit": {"in": 6, "out": 0, "uturn": 0}}, got
    assert len(ids) == 6  # one identity per person: nobody was split or merged
