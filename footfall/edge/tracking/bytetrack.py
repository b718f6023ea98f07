"""ByteTrack in NumPy: the device's default tracker, without torch in the camera process.

boxmot's ByteTrack needs no neural network, but importing it imports torch (``boxmot.structures``),
which costs a camera process about 480 MB resident for nothing. This module is the same algorithm
(Zhang et al., ByteTrack, ECCV 2022) as boxmot 25 runs it with this project's settings: two
association passes (confident detections by score-fused IoU, then weak ones by IoU), unconfirmed
tracks matched once, a constant-velocity Kalman filter on (centre x, centre y, aspect, height).
``tests/edge/test_bytetrack.py`` checks it gives boxmot's tracks, frame by frame, on the PETS clip.

One difference on purpose: boxmot keeps every removed track object for the life of the tracker (a
list that grows with every person who ever walked past, each with its Kalman state and box history,
and is scanned every frame). Here only the ids of removed tracks that are still referenced are
kept, which is all that list is ever used for: the result is the same, the memory flat.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any

import lap
import numpy as np
import scipy.linalg

from footfall.common.geometry import box_iou
from footfall.edge.tracking import TrackerStateError, load_state
from footfall.edge.types import Detections, Tracks

_W_POS = 1.0 / 20  # Kalman noise weights relative to the box height (ByteTrack's and boxmot's)
_W_VEL = 1.0 / 160
_F = np.eye(8)
_F[:4, 4:] = np.eye(4)
_H = np.eye(4, 8)
_MIN_SIZE = 1e-4

NEW, TRACKED, LOST, REMOVED = 0, 1, 2, 3


def _xywh(xyxy: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) → (centre x, centre y, width, height), in the input's precision."""
    return np.array([(xyxy[0] + xyxy[2]) / 2, (xyxy[1] + xyxy[3]) / 2, xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]])


def _corners(xywh: np.ndarray) -> np.ndarray:
    cx, cy, w, h = xywh
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _xyah(xywh: np.ndarray) -> np.ndarray:
    """(centre x, centre y, width, height) → (centre x, centre y, width / height, height).

    The centre goes through the top-left corner and back, as in ByteTrack's reference code: in
    float32 that rounding can move it by an ulp, and the tracks must be the reference's exactly.
    """
    cx, cy, w, h = xywh
    left, top = cx - w / 2.0, cy - h / 2.0
    return np.array([left + w / 2, top + h / 2, w / h, h], dtype=xywh.dtype)


def _iou_cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 − IoU between every box of ``a`` and of ``b`` (xyxy rows)."""
    return 1 - box_iou(a.reshape(-1, 4), b.reshape(-1, 4))


def _assign(cost: np.ndarray, limit: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Minimum-cost matching with pairs above ``limit`` left unmatched (Jonker–Volgenant)."""
    rows, cols = cost.shape
    if cost.size == 0:
        return [], list(range(rows)), list(range(cols))
    _, row_to_col, _ = lap.lapjv(cost, extend_cost=True, cost_limit=limit)
    matches = [(int(r), int(row_to_col[r])) for r in np.flatnonzero(row_to_col >= 0)]
    matched_r, matched_c = {r for r, _ in matches}, {c for _, c in matches}
    return matches, [r for r in range(rows) if r not in matched_r], [c for c in range(cols) if c not in matched_c]


@dataclass
class _Track:
    xywh: np.ndarray  # the detection that made it or last updated it (float32)
    conf: float
    cls: float
    det_ind: float
    id: int = -1
    state: int = NEW
    activated: bool = False
    frame_id: int = 0
    start_frame: int = 0
    mean: np.ndarray | None = None
    cov: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def of(cls, row: np.ndarray) -> _Track:
        return cls(_xywh(row[:4]), row[4], row[5], row[6])

    @property
    def xyxy(self) -> np.ndarray:
        if self.mean is None:
            return _corners(self.xywh)
        cx, cy, a, h = self.mean[:4]
        return _corners(np.array([cx, cy, a * h, h]))

    def correct(self, det: _Track, frame_id: int) -> None:
        """Kalman update with ``det``'s box; the track is tracked and confirmed."""
        assert self.mean is not None and self.cov is not None
        h = self.mean[3]
        r = np.diag(np.square([_W_POS * h, _W_POS * h, 1e-1, _W_POS * h]))
        proj_cov = np.linalg.multi_dot((_H, self.cov, _H.T)) + r
        chol = scipy.linalg.cho_factor(proj_cov, lower=True, check_finite=False)
        gain = scipy.linalg.cho_solve(chol, np.dot(self.cov, _H.T).T, check_finite=False).T
        self.mean = self.mean + np.dot(_xyah(det.xywh) - np.dot(_H, self.mean), gain.T)
        self.cov = self.cov - np.linalg.multi_dot((gain, proj_cov, gain.T))
        self.mean[2:4] = np.maximum(self.mean[2:4], _MIN_SIZE)
        self.state, self.activated, self.frame_id = TRACKED, True, frame_id
        self.conf, self.cls, self.det_ind = det.conf, det.cls, det.det_ind


def _predict(tracks: list[_Track]) -> None:
    """One constant-velocity step for every track; a lost track's height stops changing."""
    if not tracks:
        return
    mean = np.asarray([t.mean for t in tracks])
    cov = np.asarray([t.cov for t in tracks])
    for i, t in enumerate(tracks):
        if t.state != TRACKED:
            mean[i, 7] = 0
    h = mean[:, 3]
    pos, vel = (
        [_W_POS * h, _W_POS * h, np.full_like(h, 1e-2), _W_POS * h],
        [_W_VEL * h, _W_VEL * h, np.full_like(h, 1e-5), _W_VEL * h],
    )
    std = np.stack([*pos, *vel], axis=1)
    noise = np.asarray([np.diag(s) for s in np.square(std)])
    mean = mean @ _F.T
    cov = np.dot(np.dot(_F, cov).transpose((1, 0, 2)), _F.T) + noise
    mean[:, 2:4] = np.maximum(mean[:, 2:4], _MIN_SIZE)
    for t, m, c in zip(tracks, mean, cov, strict=True):
        t.mean, t.cov = m, c


def _union(a: list[_Track], b: list[_Track]) -> list[_Track]:
    """``a`` then the tracks of ``b`` not in it, each id once."""
    out, ids = list(a), {t.id for t in a}
    for t in b:
        if t.id not in ids:
            ids.add(t.id)
            out.append(t)
    return out


def _minus(a: list[_Track], b: list[_Track]) -> list[_Track]:
    ids = {t.id for t in b}
    return [t for t in a if t.id not in ids]


class ByteTrack:
    """ByteTrack over ``Detections``; output rows are boxmot's (x1, y1, x2, y2, id, conf, cls, det_ind)."""

    def __init__(
        self,
        min_conf: float = 0.1,
        track_thresh: float = 0.45,
        match_thresh: float = 0.8,
        track_buffer: int = 25,
        frame_rate: int = 30,
    ) -> None:
        self.min_conf, self.track_thresh, self.match_thresh = min_conf, track_thresh, match_thresh
        self.max_time_lost = int(frame_rate / 30.0 * track_buffer)
        self.frame = 0
        self.next_id = 0
        self.active: list[_Track] = []
        self.lost: list[_Track] = []
        # Ids of removed tracks still held in `active`/`lost`. A track removed this frame leaves
        # `lost` only at the end of the next one (and may be found again in between), as in the
        # reference; one found again and lost later is dropped at once.
        self.removed_ids: set[int] = set()

    def _fused_cost(self, tracks: list[_Track], dets: list[_Track]) -> np.ndarray:
        cost = self._cost(tracks, dets)
        if cost.size == 0:
            return cost
        return 1 - (1 - cost) * np.array([d.conf for d in dets])[None]

    @staticmethod
    def _cost(tracks: list[_Track], dets: list[_Track]) -> np.ndarray:
        return _iou_cost(np.array([t.xyxy for t in tracks]), np.array([d.xyxy for d in dets]))

    def step(self, rows: np.ndarray) -> np.ndarray:
        """One frame: ``rows`` are (x1, y1, x2, y2, conf, cls); returns confirmed tracks' rows."""
        rows = np.asarray(rows, np.float32).reshape(-1, 6)
        indexed = np.column_stack([rows, np.arange(len(rows), dtype=np.float32)])
        self.frame += 1
        conf = indexed[:, 4]
        high = [_Track.of(r) for r in indexed[conf > self.track_thresh]]
        low = [_Track.of(r) for r in indexed[(conf > self.min_conf) & (conf < self.track_thresh)]]
        activated: list[_Track] = []
        refound: list[_Track] = []
        newly_lost: list[_Track] = []
        removed: list[_Track] = []

        unconfirmed = [t for t in self.active if not t.activated]
        pool = _union([t for t in self.active if t.activated], self.lost)
        _predict(pool)

        matches, unmatched_tracks, unmatched_dets = _assign(self._fused_cost(pool, high), self.match_thresh)
        for ti, di in matches:
            (activated if pool[ti].state == TRACKED else refound).append(pool[ti])
            pool[ti].correct(high[di], self.frame)

        remaining = [pool[i] for i in unmatched_tracks if pool[i].state == TRACKED]
        matches, unmatched_rest, _ = _assign(self._cost(remaining, low), 0.5)
        for ti, di in matches:
            (activated if remaining[ti].state == TRACKED else refound).append(remaining[ti])
            remaining[ti].correct(low[di], self.frame)
        for i in unmatched_rest:
            if remaining[i].state != LOST:
                remaining[i].state = LOST
                newly_lost.append(remaining[i])

        left = [high[i] for i in unmatched_dets]
        matches, unmatched_unconfirmed, unmatched_left = _assign(self._fused_cost(unconfirmed, left), 0.7)
        for ti, di in matches:
            unconfirmed[ti].correct(left[di], self.frame)
            activated.append(unconfirmed[ti])
        for i in unmatched_unconfirmed:
            unconfirmed[i].state = REMOVED
            removed.append(unconfirmed[i])

        for i in unmatched_left:
            t = left[i]
            if t.conf < self.track_thresh:
                continue
            self._start(t)
            activated.append(t)
        for t in self.lost:
            if self.frame - t.frame_id > self.max_time_lost:
                t.state = REMOVED
                removed.append(t)

        self.active = [t for t in self.active if t.state == TRACKED]
        self.active = _union(_union(self.active, activated), refound)
        self.lost = [t for t in _minus(self.lost, self.active) + newly_lost if t.id not in self.removed_ids]
        self.removed_ids.update(t.id for t in removed)
        self.active, self.lost = self._drop_duplicates(self.active, self.lost)
        self.removed_ids.intersection_update(t.id for t in self.active + self.lost)
        out = [t for t in self.active if t.activated]
        if not out:
            return np.empty((0, 8), np.float32)
        return np.array([[*t.xyxy, t.id, t.conf, t.cls, t.det_ind] for t in out], np.float32)

    def _start(self, t: _Track) -> None:
        t.id, self.next_id = self.next_id, self.next_id + 1
        m = _xyah(t.xywh).astype(float)
        h = m[3]
        std = [
            2 * _W_POS * h,
            2 * _W_POS * h,
            1e-2,
            2 * _W_POS * h,
            10 * _W_VEL * h,
            10 * _W_VEL * h,
            1e-5,
            10 * _W_VEL * h,
        ]
        t.mean, t.cov = np.r_[m, np.zeros(4)], np.diag(np.square(std))
        t.mean[2:4] = np.maximum(t.mean[2:4], _MIN_SIZE)
        t.state, t.activated = TRACKED, self.frame == 1
        t.frame_id = t.start_frame = self.frame

    @staticmethod
    def _drop_duplicates(a: list[_Track], b: list[_Track]) -> tuple[list[_Track], list[_Track]]:
        """Of an active and a lost track over the same box (IoU > 0.85), keep the older."""
        cost = _iou_cost(np.array([t.xyxy for t in a]), np.array([t.xyxy for t in b]))
        drop_a, drop_b = set(), set()
        for p, q in zip(*np.where(cost < 0.15), strict=True):
            if a[p].frame_id - a[p].start_frame > b[q].frame_id - b[q].start_frame:
                drop_b.add(q)
            else:
                drop_a.add(p)
        return [t for i, t in enumerate(a) if i not in drop_a], [t for i, t in enumerate(b) if i not in drop_b]


class NumpyByteTrack:
    """``edge.tracking.Tracker`` over :class:`ByteTrack`; its state pickles without cloudpickle."""

    name = "bytetrack"

    def __init__(self, params: dict[str, Any]) -> None:
        self._tracker = ByteTrack(**params)

    def update(self, detections: Detections, frame_bgr: np.ndarray) -> Tracks:
        out = self._tracker.step(detections.as_rows())
        if len(out) == 0:
            return Tracks.empty()
        return Tracks(out[:, :4], out[:, 4], out[:, 5], out[:, 6], out[:, 7])

    def get_state(self) -> bytes:
        return pickle.dumps(self._tracker)

    def set_state(self, state: bytes) -> None:
        """Resume from :meth:`get_state`; anything else (say boxmot's pickle) is refused unread."""
        tracker = load_state(state, __name__)
        if not isinstance(tracker, ByteTrack):
            raise TrackerStateError(f"not a saved ByteTrack state: a {type(tracker).__name__}")
        self._tracker = tracker
