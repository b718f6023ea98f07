"""The live view: annotated frames of a camera, drawn only while someone watches, never stored.

A camera worker holds a ``LiveRenderer``; the service process holds the ``LiveHub``. The hub raises
a camera's "wanted" flag while at least one viewer is connected; the renderer then draws boxes,
track ids, classes, lines and running counts onto at most ``fps`` frames a second and hands the JPEG
over. Nobody watching costs one flag check per frame.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import cv2
import numpy as np

from footfall.common.lines import LineConfig
from footfall.edge.sources import Frame
from footfall.edge.types import CrossingKey, Detections, Direction, Tracks

_PALETTE = [(66, 135, 245), (245, 130, 48), (60, 180, 75), (230, 25, 75), (145, 30, 180), (70, 240, 240)]


def draw_overlay(
    image: np.ndarray,
    tracks: Tracks,
    class_names: list[str],
    lines: list[LineConfig],
    counts: Mapping[CrossingKey, int],
) -> np.ndarray:
    """A copy of ``image`` with tracks, lines (with their "in" side) and running counts drawn on it.

    ``counts`` holds the crossings counted so far by line, class and direction.
    """
    out = image.copy()
    for box, tid, cid in zip(tracks.xyxy, tracks.track_id, tracks.class_id, strict=True):
        colour = _PALETTE[int(cid) % len(_PALETTE)]
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2)
        name = class_names[int(cid)] if 0 <= int(cid) < len(class_names) else str(int(cid))
        label = f"#{int(tid)} {name}"
        (w, h), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        cv2.rectangle(out, (x1, max(0, y1 - h - 4)), (x1 + w + 2, y1), colour, -1)
        cv2.putText(out, label, (x1 + 1, y1 - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    for i, line in enumerate(lines):
        (ax, ay), (bx, by) = line.points
        cv2.line(out, (int(ax), int(ay)), (int(bx), int(by)), (0, 255, 255), 2, cv2.LINE_AA)
        mx, my = (ax + bx) / 2, (ay + by) / 2
        nx, ny = line.to_line().in_normal
        tip = (int(mx + 18 * nx), int(my + 18 * ny))
        cv2.arrowedLine(out, (int(mx), int(my)), tip, (0, 255, 255), 2, cv2.LINE_AA, tipLength=0.4)
        n_in = sum(n for k, n in counts.items() if k.line == line.name and k.direction is Direction.IN)
        n_out = sum(n for k, n in counts.items() if k.line == line.name and k.direction is Direction.OUT)
        text = f"{line.name}: in {n_in} / out {n_out}"
        cv2.putText(out, text, (8, 18 + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, text, (8, 18 + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 255), 1, cv2.LINE_AA)
    return out


class LiveRenderer:
    """Worker side: ``offer`` draws and publishes a frame when wanted and due."""

    def __init__(
        self,
        wanted: Any,  # a multiprocessing Event
        publish: Callable[[bytes], None],
        class_names: list[str],
        lines: list[LineConfig],
        counts: Mapping[CrossingKey, int],
        fps: float,
    ) -> None:
        self.wanted = wanted
        self.publish = publish
        self.class_names = class_names
        self.lines = lines
        self.counts = counts
        self.period = 1.0 / fps
        self._last: float | None = None  # not 0: monotonic time starts near 0 at boot

    def offer(self, frame: Frame, detections: Detections, tracks: Tracks) -> bool:
        if not self.wanted.is_set():
            return False
        now = time.monotonic()
        if self._last is not None and now - self._last < self.period:
            return False
        self._last = now
        image = draw_overlay(frame.image, tracks, self.class_names, self.lines, self.counts)
        ok, jpg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            self.publish(jpg.tobytes())
        return bool(ok)


class LiveHub:
    """Service side: the newest JPEG of each camera and who is watching which camera."""

    def __init__(self, wanted: dict[str, Any]) -> None:
        self._wanted = wanted
        self._viewers = dict.fromkeys(wanted, 0)
        self._frames: dict[str, tuple[int, bytes]] = {}
        self._cond = threading.Condition()

    @property
    def cameras(self) -> list[str]:
        return list(self._wanted)

    def put(self, camera: str, jpeg: bytes) -> None:
        with self._cond:
            seq = self._frames.get(camera, (0, b""))[0] + 1
            self._frames[camera] = (seq, jpeg)
            self._cond.notify_all()

    @contextlib.contextmanager
    def watch(self, camera: str) -> Iterator[None]:
        """Raise the camera's flag for the duration (viewers are counted)."""
        with self._cond:
            self._viewers[camera] += 1
            self._wanted[camera].set()
        try:
            yield
        finally:
            with self._cond:
                self._viewers[camera] -= 1
                if self._viewers[camera] == 0:
                    self._wanted[camera].clear()
                    self._frames.pop(camera, None)  # no customer image outlives its viewers

    def next_frame(self, camera: str, after: int, timeout_s: float) -> tuple[int, bytes] | None:
        """The first frame newer than sequence number ``after``, or None after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                seq, jpeg = self._frames.get(camera, (0, b""))
                if seq > after:
                    return seq, jpeg
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
