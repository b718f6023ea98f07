"""When the detector runs: on every frame while someone is in view, a few times a second when nobody is.

The detector is most of a camera's cost. An empty scene (a shop before opening, a quiet corridor)
needs only to be watched for the next person; the frames in between still go through the tracker
and the counter, with no detections, so their state moves on exactly as when the detector finds
nobody. The first detection brings back every frame.
"""

from __future__ import annotations

from footfall.edge.config import IdleConfig


class DetectionRate:
    """Decides per frame whether to run the detector (``due``) and learns from what it saw (``saw``)."""

    def __init__(self, cfg: IdleConfig) -> None:
        self.after_s, self.every_s = cfg.after_s, cfg.detect_every_s
        self._last_busy: float | None = None
        self._last_detect: float | None = None
        self.detected = 0
        self.skipped = 0

    def due(self, ts: float) -> bool:
        busy = self._last_busy is None or ts - self._last_busy < self.after_s
        run = self.every_s == 0 or busy or self._last_detect is None or ts - self._last_detect >= self.every_s
        if run:
            self._last_detect = ts
            self.detected += 1
        else:
            self.skipped += 1
        return run

    def saw(self, ts: float, anyone: bool) -> None:
        """``anyone``: the frame had a detection or a track (confirmed, or the tracker's prediction)."""
        if anyone or self._last_busy is None:
            self._last_busy = ts
