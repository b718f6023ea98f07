"""footfall's NumPy ByteTrack: boxmot's tracks exactly, no torch, flat state, a safe state restore."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from footfall.edge.config import ModelConfig
from footfall.edge.detectors import create_detector
from footfall.edge.tracking import TrackerStateError, create_tracker, tracker_defaults
from footfall.edge.tracking.bytetrack import ByteTrack
from tests.conftest import ONE_BY_ONE, ROOT, VTEST
from tests.helpers import video_frames


def _detections(video: Path, model: Path) -> list[np.ndarray]:
    # conf 0.1: ByteTrack's second pass (weak detections) gets work too
    det = create_detector(ModelConfig(path=model, input_size=480, conf_threshold=0.1))
    return [det.detect(frame).as_rows() for frame in video_frames(video)]


@pytest.fixture(scope="module")
def pets_rows(yolov5n_onnx: Path) -> list[np.ndarray]:
    return _detections(VTEST, yolov5n_onnx)


@pytest.mark.slow
@pytest.mark.parametrize("video", ["pets", "indoor"])
def test_gives_boxmots_tracks_frame_by_frame(video: str, pets_rows: list, yolov5n_onnx: Path) -> None:
    import boxmot

    rows = pets_rows if video == "pets" else _detections(ONE_BY_ONE, yolov5n_onnx)
    params = tracker_defaults("bytetrack")
    ours, reference = ByteTrack(**params), boxmot.ByteTrack(**params)
    blank = np.zeros((360, 480, 3), np.uint8)
    tracked = 0
    for i, r in enumerate(rows):
        a, b = ours.step(r), reference.update(r, blank)
        assert a.shape == b.shape, f"frame {i}"
        np.testing.assert_array_equal(a, b, err_msg=f"frame {i}")
        tracked += len(a)
    assert tracked > 1000 if video == "pets" else tracked > 300
    assert ours.next_id > 10, "people came and went: tracks were started, lost and removed"


@pytest.mark.slow
def test_state_stays_bounded_over_a_long_run(pets_rows: list) -> None:
    # the clip five times over, as one sequence: boxmot's removed list would hold every track
    tracker = ByteTrack(**tracker_defaults("bytetrack"))
    sizes = []
    for _ in range(5):
        for r in pets_rows:
            tracker.step(r)
        sizes.append(len(pickle.dumps(tracker)))
    assert tracker.next_id > 150
    assert len(tracker.removed_ids) <= len(tracker.active) + len(tracker.lost)
    assert max(sizes) < 2 * min(sizes), sizes


def test_a_camera_process_with_bytetrack_never_imports_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from footfall.edge.tracking import create_tracker\n"
        "from footfall.edge.types import Detections\n"
        "import numpy as np\n"
        "t = create_tracker('bytetrack', stitch_max_gap_frames=50)\n"
        "d = Detections(np.array([[10, 10, 50, 120]], np.float32), np.array([0.9], np.float32),"
        " np.array([0], np.int32))\n"
        "for _ in range(3): out = t.update(d, np.zeros((360, 480, 3), np.uint8))\n"
        "t.set_state(t.get_state())\n"
        "assert len(out) == 1, out\n"
        "print(sorted(m for m in ('torch', 'boxmot') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class _Boom:
    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))

    def __init__(self, marker: Path) -> None:
        self.marker = marker


@pytest.mark.parametrize("stitch", [0, 50])
def test_a_foreign_state_is_refused_without_running_it(tmp_path: Path, stitch: int) -> None:
    tracker = create_tracker("bytetrack", stitch_max_gap_frames=stitch)
    marker = tmp_path / "ran"
    with pytest.raises(TrackerStateError, match="not a saved tracker state"):
        tracker.set_state(pickle.dumps(_Boom(marker)))
    assert not marker.exists()
    if stitch:  # the stitcher's own wrapping, with a planted inner state
        good = pickle.loads(tracker.get_state())
        with pytest.raises(TrackerStateError):
            tracker.set_state(pickle.dumps((pickle.dumps(_Boom(marker)), good[1])))
        assert not marker.exists()
        tracker.set_state(tracker.get_state())  # its own state still restores
        return
    with pytest.raises(TrackerStateError, match="a dict"):
        tracker.set_state(pickle.dumps({"tracker": 1}))
    with pytest.raises(TrackerStateError):
        tracker.set_state(b"not a pickle")
