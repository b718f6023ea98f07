"""Line-crossing counting with hysteresis, U-turn handling and per-track class votes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from edge.geometry import Anchor, Line, Point
from edge.types import CrossingEvent, Detections, Direction, Tracks


class ClassVoter:
    """Gives each track one class by a confidence-weighted vote over its whole life.

    A person whose detections flicker between ``female_adult`` and ``male_adult`` is still counted
    once, under the class with the most accumulated confidence.
    """

    def __init__(self, class_names: list[str]) -> None:
        if not class_names:
            raise ValueError("ClassVoter needs at least one class name")
        self.class_names = list(class_names)
        self._votes: dict[int, np.ndarray] = {}

    def update(self, tracks: Tracks, detections: Detections | None = None) -> None:
        n = len(self.class_names)
        for i, tid in enumerate(tracks.track_id.tolist()):
            votes = self._votes.setdefault(tid, np.zeros(n, np.float64))
            det = int(tracks.det_index[i])
            if detections is not None and detections.class_probs is not None and 0 <= det < len(detections):
                votes += float(detections.confidence[det]) * detections.class_probs[det, :n]
            elif det >= 0 or detections is None:
                cls = int(tracks.class_id[i])
                if 0 <= cls < n:
                    votes[cls] += float(tracks.confidence[i])

    def class_of(self, track_id: int) -> str:
        votes = self._votes.get(track_id)
        if votes is None or not votes.any():
            return self.class_names[0] if len(self.class_names) == 1 else "unknown"
        return self.class_names[int(np.argmax(votes))]

    def forget(self, track_id: int) -> None:
        self._votes.pop(track_id, None)

    def __len__(self) -> int:
        return len(self._votes)


@dataclass
class _Pending:
    direction: Direction
    frame: int
    ts: float


@dataclass
class _LineState:
    side: int = 0  # +1 "in" side, -1 "out" side, 0 not yet known (first seen inside the band)
    anchor: Point | None = None  # last anchor seen on ``side``
    pending: _Pending | None = None


@dataclass
class _TrackState:
    last_seen_ts: float
    lines: dict[str, _LineState] = field(default_factory=dict)


class CrossingCounter:
    """Counts the crossings of every line of one camera.

    Args:
        camera: camera name stamped on every event.
        lines: counting lines by name.
        class_names: product classes, in the detector's class-id order.
        hysteresis_px: half-width of a band around each line inside which a track keeps the side it
            had. Raising it suppresses double counts from feet jittering on the line but misses people
            who only graze the line; lowering it counts grazes and jitter alike.
        uturn_window_s: a crossing reversed by the same track within this many seconds is reported
            once as a U-turn instead of an in plus an out. Crossings are held back this long before
            they are reported. 0 reports every crossing at once.
        forget_after_s: a track not seen for this long is dropped from memory, which bounds the state
            of a device running for months; a person hidden for longer comes back as a new track.
        anchor: which point of the box decides its side.
    """

    def __init__(
        self,
        camera: str,
        lines: Mapping[str, Line],
        class_names: list[str],
        *,
        hysteresis_px: float = 3.0,
        uturn_window_s: float = 2.0,
        forget_after_s: float = 10.0,
        anchor: Anchor = Anchor.BOTTOM_CENTER,
    ) -> None:
        if hysteresis_px < 0 or uturn_window_s < 0:
            raise ValueError("hysteresis_px and uturn_window_s must be >= 0")
        if forget_after_s <= uturn_window_s:
            raise ValueError(
                f"forget_after_s ({forget_after_s}) must exceed uturn_window_s ({uturn_window_s}), "
                "or a U-turn could outlive the track that made it"
            )
        self.camera = camera
        self.lines = dict(lines)
        self.hysteresis_px = hysteresis_px
        self.uturn_window_s = uturn_window_s
        self.forget_after_s = forget_after_s
        self.anchor = anchor
        self.voter = ClassVoter(class_names)
        self._tracks: dict[int, _TrackState] = {}
        self._counts: dict[str, dict[str, dict[str, int]]] = {
            name: {d.value: {} for d in Direction} for name in self.lines
        }

    @property
    def counts(self) -> Mapping[str, Mapping[str, Mapping[str, int]]]:
        """Events reported so far: ``counts[line][direction][class]``."""
        return MappingProxyType({k: MappingProxyType(v) for k, v in self._counts.items()})

    @property
    def tracked(self) -> int:
        """Tracks held in memory (bounded by ``forget_after_s``)."""
        return len(self._tracks)

    def update(
        self, tracks: Tracks, ts: float, frame: int, detections: Detections | None = None
    ) -> list[CrossingEvent]:
        """Advance by one frame; return the events that became final on it."""
        self.voter.update(tracks, detections)
        events: list[CrossingEvent] = []
        anchors = self.anchor.points(tracks.xyxy)
        for name, line in self.lines.items():
            dist = line.signed_distance(anchors)
            for i, tid in enumerate(tracks.track_id.tolist()):
                state = self._tracks.setdefault(tid, _TrackState(ts))
                ls = state.lines.setdefault(name, _LineState())
                self._observe(name, line, tid, ls, Point(*anchors[i].tolist()), float(dist[i]), ts, frame, events)
        for tid in tracks.track_id.tolist():
            self._tracks[tid].last_seen_ts = ts
        events.extend(self._expire(ts))
        return events

    def flush(self) -> list[CrossingEvent]:
        """Report every crossing still held for the U-turn window (end of a stream)."""
        return self._expire(float("inf"))

    def _observe(
        self,
        name: str,
        line: Line,
        tid: int,
        ls: _LineState,
        point: Point,
        dist: float,
        ts: float,
        frame: int,
        events: list[CrossingEvent],
    ) -> None:
        side = 1 if dist > self.hysteresis_px else -1 if dist < -self.hysteresis_px else 0
        if side == 0:
            return
        if ls.side == 0 or side == ls.side:
            ls.side, ls.anchor = side, point
            return
        crossed = ls.anchor is not None and line.segment_crossed(ls.anchor, point, self.hysteresis_px)
        ls.side, ls.anchor = side, point
        if not crossed:
            return
        direction = Direction.IN if side > 0 else Direction.OUT
        if ls.pending is not None and ts - ls.pending.ts > self.uturn_window_s:
            events.append(self._event(name, tid, ls.pending.frame, ls.pending.ts, ls.pending.direction))
            ls.pending = None
        if ls.pending is not None and ls.pending.direction is not direction:
            first = ls.pending
            ls.pending = None
            events.append(self._event(name, tid, first.frame, first.ts, Direction.UTURN, first.direction))
            return
        if ls.pending is not None:
            events.append(self._event(name, tid, ls.pending.frame, ls.pending.ts, ls.pending.direction))
            ls.pending = None
        if self.uturn_window_s == 0:
            events.append(self._event(name, tid, frame, ts, direction))
        else:
            ls.pending = _Pending(direction, frame, ts)

    def _expire(self, now: float) -> list[CrossingEvent]:
        events = []
        for tid in list(self._tracks):
            state = self._tracks[tid]
            for name, ls in state.lines.items():
                if ls.pending is not None and now - ls.pending.ts >= self.uturn_window_s:
                    p, ls.pending = ls.pending, None
                    events.append(self._event(name, tid, p.frame, p.ts, p.direction))
            if now - state.last_seen_ts > self.forget_after_s:
                del self._tracks[tid]
                self.voter.forget(tid)
        return events

    def _event(
        self,
        line: str,
        tid: int,
        frame: int,
        ts: float,
        direction: Direction,
        first: Direction | None = None,
    ) -> CrossingEvent:
        cls = self.voter.class_of(tid)
        by_class = self._counts[line][direction.value]
        by_class[cls] = by_class.get(cls, 0) + 1
        return CrossingEvent(self.camera, line, tid, frame, ts, cls, direction, first)
