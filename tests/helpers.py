"""Builders for test objects."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from footfall.central.pgserver import free_port
from footfall.edge.types import Detections, Tracks

__all__ = ["detections", "free_port", "person_box", "tracks", "video_frames", "wait_for"]


def person_box(foot_x: float, foot_y: float, w: float = 20, h: float = 50) -> list[float]:
    """An xyxy box whose bottom centre (the feet) is at (foot_x, foot_y)."""
    return [foot_x - w / 2, foot_y - h, foot_x + w / 2, foot_y]


def tracks(*items: tuple[int, float, float], cls: int = 0, conf: float = 0.9) -> Tracks:
    """Tracks from (track_id, foot_x, foot_y) triples."""
    if not items:
        return Tracks.empty()
    return Tracks(
        np.array([person_box(x, y) for _, x, y in items]),
        np.array([tid for tid, _, _ in items]),
        np.full(len(items), conf),
        np.full(len(items), cls),
        np.arange(len(items)),
    )


def detections(
    boxes: Sequence[Sequence[float]], classes: Sequence[int], probs: Sequence[Sequence[float]], conf: float = 0.9
) -> Detections:
    return Detections(np.array(boxes), np.full(len(boxes), conf), np.array(classes), np.array(probs))


def wait_for(predicate: Callable[[], object], timeout: float, what: str, every: float = 0.05) -> None:
    """Poll ``predicate`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def video_frames(video: Path, start: int = 0, count: int | None = None, step: int = 1) -> Iterator[np.ndarray]:
    """Frames start, start + step, … of ``video`` (``count`` of them, or to its end); the frames before
    ``start`` are decoded without conversion. A video shorter than asked fails the test."""
    cap = cv2.VideoCapture(str(video))
    try:
        for _ in range(start):
            assert cap.grab(), f"{video} has fewer than {start} frames"
        taken, i = 0, 0
        while count is None or taken < count:
            ok, frame = cap.read()
            if not ok:
                assert count is None, f"{video} has fewer than {start + count * step} frames"
                return
            if i % step == 0:
                taken += 1
                yield frame
            i += 1
    finally:
        cap.release()
