"""Online tracklet stitching: a person who reappears after an occlusion keeps their identity.

Trackers drop a track after ``max_age`` frames without a detection and start a new one when the
person reappears behind the lamp post or the shelf. A new tracker id is linked to a recently lost
one when it appears where the lost one's constant-velocity motion says it should be, with a
similar box height. The counter then sees one person, so an occluded crossing is still counted.

A track lost at the edge of the picture has left the view: whoever comes in at that edge later is
somebody else, so such a track can be re-linked only within ``exit_gap_frames`` (detector flicker
at the border), never after a longer gap.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from footfall.common.geometry import BORDER_WIDTHS, touches_border
from footfall.edge.types import Detections, Tracks


@dataclass
class _Tracklet:
    pid: int  # stable output id
    history: deque[tuple[int, float, float, float]] = field(default_factory=lambda: deque(maxlen=10))
    lost_since: int | None = None  # frame of the last sighting, while lost
    at_border: bool = False  # the last box touched the picture's edge: the person may have left

    def predict(self, frame: int) -> tuple[float, float, float]:
        f1, x1, y1, h1 = self.history[-1]
        f0, x0, y0, _ = self.history[0]
        span = max(f1 - f0, 1)
        vx, vy = (x1 - x0) / span, (y1 - y0) / span
        # a person does not keep walking at full speed through a long occlusion: damp the motion
        gap = min(frame - f1, 15)
        return x1 + vx * gap, y1 + vy * gap, h1


class TrackletStitcher:
    """Relabels tracker ids so that fragments of one person share the id of the first fragment.

    Args:
        max_gap_frames: how long a lost track can be re-linked. Longer recovers longer occlusions
            but risks linking two different people in a crowd.
        radius: gate on the distance between the predicted and the new foot point, in box heights,
            growing by ``radius_growth`` per frame of gap.
        height_ratio: allowed ratio between the lost and the new box height.
        border_widths: a box closer than this many of its widths to the picture's edge touches
            the border (detectors lose people before they are fully out of view).
        exit_gap_frames: how many frames a track lost at the border may miss and still be re-linked.
    """

    # class-level defaults let a stitcher pickled by an older version (resume state) load
    border_widths = BORDER_WIDTHS
    exit_gap_frames = 5

    def __init__(
        self,
        max_gap_frames: int = 50,
        radius: float = 0.5,
        radius_growth: float = 0.05,
        height_ratio: float = 1.5,
        border_widths: float = BORDER_WIDTHS,
        exit_gap_frames: int = 5,
    ) -> None:
        self.max_gap_frames = max_gap_frames
        self.border_widths = border_widths
        self.exit_gap_frames = exit_gap_frames
        self.radius = radius
        self.radius_growth = radius_growth
        self.height_ratio = height_ratio
        self._by_tracker_id: dict[int, _Tracklet] = {}
        self._lost: dict[int, _Tracklet] = {}  # pid → lost tracklet
        self._owner: dict[int, int] = {}  # pid → tracker id currently carrying it
        self._last_seen: dict[int, int] = {}  # tracker id → frame
        self._next_pid = 1
        self._frame = 0
        self.stitches = 0

    def update(self, tracks: Tracks, frame_hw: tuple[int, int] | None = None) -> Tracks:
        """Relabel ``tracks``; ``frame_hw`` (the picture's height and width) enables the exit rule."""
        frame = self._frame
        self._frame += 1
        feet_x = (tracks.xyxy[:, 0] + tracks.xyxy[:, 2]) / 2
        feet_y = tracks.xyxy[:, 3]
        heights = tracks.xyxy[:, 3] - tracks.xyxy[:, 1]
        tids = tracks.track_id.tolist()
        seen = set(tids)
        # a tracklet whose tracker id vanished may be claimed by a new id; the tracker itself may
        # also bring the old id back (ByteTrack re-finds lost tracks), so the mapping is kept
        for tid, tl in self._by_tracker_id.items():
            if tid not in seen and tl.lost_since is None and self._owner.get(tl.pid) == tid:
                tl.lost_since = tl.history[-1][0]
                self._lost[tl.pid] = tl
        for tid in [
            t for t in self._by_tracker_id if t not in seen and frame - self._last_seen[t] > self.max_gap_frames
        ]:
            del self._last_seen[tid]
            tl = self._by_tracker_id.pop(tid)
            self._lost.pop(tl.pid, None)
            if self._owner.get(tl.pid) == tid:
                del self._owner[tl.pid]
        for tid in seen:  # the tracker re-found a track it had lost: its identity is not up for grabs
            back = self._by_tracker_id.get(tid)
            if back is not None and self._owner.get(back.pid) == tid:
                self._lost.pop(back.pid, None)
        new = [i for i, tid in enumerate(tids) if tid not in self._by_tracker_id]
        candidates = []
        for i in new:
            for pid, tl in self._lost.items():
                px, py, ph = tl.predict(frame)
                gap = frame - (tl.lost_since or frame)
                if tl.at_border and gap - 1 > self.exit_gap_frames:  # gap - 1 frames missed
                    continue
                ratio = max(ph, heights[i]) / max(min(ph, heights[i]), 1e-6)
                dist = float(np.hypot(feet_x[i] - px, feet_y[i] - py))
                if ratio <= self.height_ratio and dist <= ph * (self.radius + self.radius_growth * gap):
                    candidates.append((dist / max(ph, 1e-6), i, pid))
        linked: dict[int, int] = {}
        used: set[int] = set()
        for _, i, pid in sorted(candidates):
            if i not in linked and pid not in used:
                linked[i] = pid
                used.add(pid)
        out_ids = tracks.track_id.copy()
        for i, tid in enumerate(tids):
            known = self._by_tracker_id.get(tid)
            if known is not None and self._owner.get(known.pid) == tid:
                tl = known
            else:  # new, or its identity went to a newer fragment meanwhile: link or start afresh
                if i in linked:
                    tl = self._lost[linked[i]]
                    self.stitches += 1
                else:
                    tl = _Tracklet(pid=self._next_pid)
                    self._next_pid += 1
                self._by_tracker_id[tid] = tl
                self._owner[tl.pid] = tid
            self._lost.pop(tl.pid, None)
            tl.lost_since = None
            tl.at_border = frame_hw is not None and touches_border(tracks.xyxy[i], frame_hw, self.border_widths)
            tl.history.append((frame, float(feet_x[i]), float(feet_y[i]), float(heights[i])))
            out_ids[i] = tl.pid
            self._last_seen[tid] = frame
        return Tracks(tracks.xyxy, out_ids, tracks.confidence, tracks.class_id, tracks.det_index)


class StitchedTracker:
    """Any ``Tracker`` followed by a ``TrackletStitcher``."""

    def __init__(self, inner: object, stitcher: TrackletStitcher) -> None:
        self.inner = inner
        self.stitcher = stitcher
        self.name = f"{inner.name}+stitch"  # type: ignore[attr-defined]

    def update(self, detections: Detections, frame_bgr: np.ndarray) -> Tracks:
        tracks = self.inner.update(detections, frame_bgr)  # type: ignore[attr-defined]
        return self.stitcher.update(tracks, frame_bgr.shape[:2])

    def get_state(self) -> bytes:
        import pickle

        return pickle.dumps((self.inner.get_state(), self.stitcher))  # type: ignore[attr-defined]

    def set_state(self, state: bytes) -> None:
        from footfall.edge.tracking import TrackerStateError, load_state

        restored = load_state(state, __name__)
        if not (isinstance(restored, tuple) and len(restored) == 2 and isinstance(restored[1], TrackletStitcher)):
            raise TrackerStateError("not a saved stitched tracker state")
        self.inner.set_state(restored[0])  # type: ignore[attr-defined]
        self.stitcher = restored[1]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)
