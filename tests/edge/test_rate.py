"""The detector's rate: every frame while anyone is in view, a few times a second in an empty scene."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import numpy as np
import pytest

from footfall.edge.build import build_camera
from footfall.edge.config import CameraConfig, IdleConfig, load_config
from footfall.edge.pipeline import run_camera
from footfall.edge.rate import DetectionRate
from footfall.edge.store import CountStore
from tests.conftest import HELD_OUT_LINES, ONE_BY_ONE, ROOT
from tests.helpers import video_frames


def _run(rate: DetectionRate, frames: list[tuple[float, bool]]) -> list[bool]:
    out = []
    for ts, anyone in frames:
        out.append(rate.due(ts))
        rate.saw(ts, anyone and out[-1])
    return out


def test_every_frame_while_busy_then_a_few_a_second() -> None:
    rate = DetectionRate(IdleConfig(after_s=1.0, detect_every_s=0.5))
    # 10 fps: someone in view for 1 s, then nobody for 3 s
    frames = [(i / 10, i < 10) for i in range(40)]
    ran = _run(rate, frames)
    assert all(ran[:20]), "busy, and for after_s once nobody is seen"
    idle = [i for i, r in enumerate(ran[20:], 20) if r]
    assert len(idle) in (3, 4) and all(b - a in (5, 6) for a, b in itertools.pairwise(idle)), idle
    assert rate.skipped == 40 - sum(ran)


def test_the_first_detection_brings_back_every_frame() -> None:
    rate = DetectionRate(IdleConfig(after_s=0.5, detect_every_s=1.0))
    ran = _run(rate, [(i / 10, False) for i in range(30)])
    assert sum(ran[10:]) <= 3, "empty: about once a second"
    # someone appears at 3.0 s: seen on the next sampled frame, then every frame
    ran = _run(rate, [(3 + i / 10, True) for i in range(20)])
    first = ran.index(True)
    assert first <= 10 and all(ran[first:])


def test_zero_means_every_frame() -> None:
    rate = DetectionRate(IdleConfig(detect_every_s=0))
    assert all(_run(rate, [(i / 10, False) for i in range(50)]))


def _scene(n: int, *, mover: bool, seed: int = 0) -> list[np.ndarray]:
    """``n`` frames of the held-out indoor scene while it is empty (its frame 0), with sensor noise; with
    ``mover``, a person-sized dark patch (12 × 40 px) walks 4 px a frame across it."""
    base = next(video_frames(ONE_BY_ONE, count=1)).astype(np.int16)
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        frame = base + rng.normal(0, 3, base.shape).round().astype(np.int16)
        if mover:
            x = 20 + 4 * i
            frame[200:240, x : x + 12] = 30
        frames.append(frame.clip(0, 255).astype(np.uint8))
    return frames


def test_a_still_empty_scene_is_looked_at_seldom_and_a_moving_one_as_before() -> None:
    cfg = IdleConfig(after_s=1.0, detect_every_s=0.4, still_every_s=2.0)
    still, moving = DetectionRate(cfg), DetectionRate(cfg)

    def run(rate: DetectionRate, frames: list[np.ndarray]) -> list[bool]:  # 12 fps, nobody detected
        out = []
        for i, frame in enumerate(frames):
            out.append(rate.due(i / 12, frame))
            rate.saw(i / 12, False)
        return out

    ran_still = run(still, _scene(120, mover=False))  # 10 s
    ran_moving = run(moving, _scene(120, mover=True))
    # the first second is 'busy' (nothing seen yet for after_s); then the still scene waits 2 s a time,
    # sensor noise notwithstanding, and the moving one is looked at every 0.4 s, as without the check
    idle_still = [i for i, r in enumerate(ran_still) if r and i >= 12]
    idle_moving = [i for i, r in enumerate(ran_moving) if r and i >= 12]
    assert all(b - a in (24, 25) for a, b in itertools.pairwise(idle_still)), idle_still
    assert all(b - a in (4, 5) for a, b in itertools.pairwise(idle_moving)), idle_moving
    assert still.still > 0 and moving.still == 0


def _counts(cam: CameraConfig, idle: IdleConfig, model: Path) -> tuple[list, DetectionRate]:
    cfg = load_config(ROOT / "configs" / "sample.yaml")
    cfg = cfg.model_copy(update={"idle": idle, "model": cfg.model.model_copy(update={"path": model})})
    parts = build_camera(cfg, cam)
    with tempfile.TemporaryDirectory() as tmp, CountStore(Path(tmp) / "c.db") as store:
        run_camera(parts, camera=cam.name, session="s", store=store)
        events = store.events("s")
    return events, parts.rate


@pytest.mark.slow
@pytest.mark.parametrize("video", ["pets", "indoor"])
def test_the_idle_rate_changes_no_crossing_on_the_sample_videos(video: str, yolov5n_onnx: Path) -> None:
    if video == "pets":
        cam = load_config(ROOT / "configs" / "sample.yaml").cameras[0]
    else:  # the held-out scene: six people one at a time, with empty spells between them
        cam = CameraConfig.model_validate({"name": "shop", "source": str(ONE_BY_ONE), "lines": HELD_OUT_LINES})
    every_frame, _ = _counts(cam, IdleConfig(detect_every_s=0), yolov5n_onnx)
    idle, rate = _counts(cam, IdleConfig(), yolov5n_onnx)
    assert idle == every_frame
    assert len(every_frame) >= 12
    if video == "indoor":
        assert rate.skipped > 100, "the scene empties between people: frames were left undetected"
        assert rate.still > 0, "and stands still: the detector waited longer"
    else:
        assert rate.skipped == 0, "the plaza is never empty"
