"""Builders for test objects."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from footfall.edge.types import Detections, Tracks


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


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server a test starts)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
