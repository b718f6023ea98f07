"""When the detector runs: on every frame while someone is in view, a few times a second when nobody is.

The detector is most of a camera's cost. An empty scene (a shop before opening, a quiet corridor)
needs only to be watched for the next person; the frames in between still go through the tracker
and the counter, with no detections, so their state moves on exactly as when the detector finds
nobody. The first detection brings back every frame.

An empty scene that is also still (a closed shop at night) is watched more cheaply again: each frame
due by ``detect_every_s`` is first compared, as a small grey picture, with the one the detector last
ran on; while nothing changed the detector waits up to ``still_every_s``. A person coming in changes
the picture, so they are looked for as soon as in a merely empty scene.
"""

from __future__ import annotations

import cv2
import numpy as np

from footfall.edge.config import IdleConfig

# the stillness check: the frame shrunk to this width (averaging away sensor and compression noise),
# a pixel "changed" by more than CHANGED_LEVEL grey levels, the picture changed when more than
# CHANGED_SHARE of its pixels did — about six pixels of 4,800, where a person 40 px tall in a 480 px
# frame covers a dozen
SMALL_WIDTH = 80
CHANGED_LEVEL = 20
CHANGED_SHARE = 0.00125


def small_grey(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    size = (SMALL_WIDTH, max(1, round(h * SMALL_WIDTH / w)))
    return np.asarray(cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA))


def changed(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return True
    return bool(np.count_nonzero(cv2.absdiff(a, b) > CHANGED_LEVEL) > CHANGED_SHARE * a.size)


class DetectionRate:
    """Decides per frame whether to run the detector (``due``) and learns from what it saw (``saw``)."""

    def __init__(self, cfg: IdleConfig) -> None:
        self.after_s, self.every_s, self.still_s = cfg.after_s, cfg.detect_every_s, cfg.still_every_s
        self._last_busy: float | None = None
        self._last_detect: float | None = None
        self._reference: np.ndarray | None = None  # small grey copy of the frame the detector last ran on
        self.detected = 0
        self.skipped = 0
        self.still = 0  # frames left undetected because nothing in the picture changed

    def due(self, ts: float, image: np.ndarray | None = None) -> bool:
        """Whether the detector runs on the frame at ``ts``; ``image`` lets a still, empty scene wait longer."""
        busy = self._last_busy is None or ts - self._last_busy < self.after_s
        since = None if self._last_detect is None else ts - self._last_detect
        small = None
        if self.every_s == 0 or busy or since is None:
            run = True
        elif since < self.every_s:
            run = False
        elif image is None or self.still_s <= self.every_s or since >= self.still_s:
            run = True
        else:  # due by the empty scene's rate: only if the picture changed since the detector last ran
            small = small_grey(image)
            run = self._reference is None or changed(small, self._reference)
            self.still += not run
        if busy:
            self._reference = None
        if run:
            self._last_detect = ts
            self.detected += 1
            if not busy and image is not None and self.still_s > self.every_s > 0:
                self._reference = small if small is not None else small_grey(image)
        else:
            self.skipped += 1
        return run

    def saw(self, ts: float, anyone: bool) -> None:
        """``anyone``: the frame had a detection or a track (confirmed, or the tracker's prediction)."""
        if anyone or self._last_busy is None:
            self._last_busy = ts
