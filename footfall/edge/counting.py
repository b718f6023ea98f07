"""Line-crossing counting with hysteresis, U-turn handling and per-track class votes.

The counter's state (per track: side of each line, pending U-turns, occlusion entries; class votes;
counts) is saved as a versioned JSON document (``get_state`` / ``set_state``), never as a pickle, so
a checkpoint holds data, not code, and outlives changes to the class.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from footfall.common.geometry import BORDER_WIDTHS, Anchor, Line, Point, touches_border
from footfall.edge.config import CountingConfig
from footfall.edge.types import CountMoment, CountRisk, CrossingEvent, Detections, Direction, Tracks

_DEFAULTS = CountingConfig()  # the one place counting defaults are written is the config model
STATE_VERSION = 1

# When a crossing is a count risk (``CountRisk``): capture heuristics for the harvest, not counting
# rules — they decide which frames an annotator sees, never what is counted.
RISK_SHORT_TRACK_FRAMES = 10  # seen on fewer frames than this when it crossed
RISK_LOW_CONF = 0.5  # its box's confidence below this when it crossed
RISK_CLOSE_VOTE = 0.25  # the winning class's share of the votes leads the runner-up's by less than this


class CounterStateError(ValueError):
    """A saved counter state this version cannot read (e.g. a pickle from before states were JSON)."""


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

    def margin(self, track_id: int) -> float:
        """How clearly the track's class won its vote: (first − second) / all votes; 1.0 with one class."""
        votes = self._votes.get(track_id)
        if len(self.class_names) < 2 or votes is None or votes.sum() <= 0:
            return 1.0
        top = np.sort(votes)[::-1]
        return float((top[0] - top[1]) / votes.sum())

    def forget(self, track_id: int) -> None:
        self._votes.pop(track_id, None)

    def state(self) -> dict[str, list[float]]:
        """The accumulated votes by track, JSON-ready."""
        return {str(tid): v.tolist() for tid, v in self._votes.items()}

    def restore(self, state: dict[str, list[float]]) -> None:
        votes = {int(tid): np.asarray(v, np.float64) for tid, v in state.items()}
        if any(v.shape != (len(self.class_names),) for v in votes.values()):
            raise ValueError(f"class votes are not over {len(self.class_names)} classes")
        self._votes = votes

    def __len__(self) -> int:
        return len(self._votes)


@dataclass
class _Pending:
    direction: Direction
    frame: int
    ts: float


def _pending_doc(p: _Pending | None) -> list[Any] | None:
    return None if p is None else [p.direction.value, p.frame, p.ts]


def _pending_of(doc: list[Any] | None) -> _Pending | None:
    return None if doc is None else _Pending(Direction(doc[0]), int(doc[1]), float(doc[2]))


CONFIRM_LOST_S = 1.0  # a track unseen this long beyond the line with a crossing not yet confirmed: it counts


@dataclass
class _LineState:
    side: int = 0  # +1 "in" side, -1 "out" side, 0 not yet known (first seen inside the band)
    anchor: Point | None = None  # last anchor seen on ``side``
    pending: _Pending | None = None
    crossings: int = 0  # crossings seen
    unconfirmed: _Pending | None = None  # crossed, not yet far enough beyond the line (``confirm_share``)


@dataclass
class _Entry:
    """Where a track first appeared away from the picture's edge, until its motion is known."""

    frame: int
    ts: float
    frame_hw: tuple[int, int]
    margin: float  # the border band of the picture for this person's box width
    first: Point | None = None  # its first and latest sightings, and how many there were
    last: Point | None = None
    last_ts: float = 0.0
    sightings: int = 0


@dataclass
class _TrackState:
    last_seen_ts: float
    lines: dict[str, _LineState] = field(default_factory=dict)
    entry: _Entry | None = None
    sightings: int = 0  # frames it was seen on
    conf: float = 1.0  # its box's confidence on the latest of them


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
        entry_backtrack_s: a track that first appears away from the picture's edge (after the
            stream's first frame) came out from behind something: its motion over its first
            ``entry_fit_frames`` sightings is run back this many seconds before it appeared (no
            further than the picture's edge), and a line crossed on that stretch is counted as crossed
            when it appeared — unless a track lost meanwhile made the same crossing. This recovers
            people whose crossing an occlusion hid; a track the stitcher continued is not new. 0 turns
            it off.
        entry_fit_frames: how many sightings of a new track fix its motion for the rule above.
        confirm_share: a crossing counts once the foot is this share of the person's box height beyond
            the line, or the track is lost there; back over the line first, neither step counts (jitter
            of a box at the line, at the person's scale in the picture). It is reported with the frame
            and time it crossed. 0 counts at once.
    """

    def __init__(
        self,
        camera: str,
        lines: Mapping[str, Line],
        class_names: list[str],
        *,
        hysteresis_px: float = _DEFAULTS.hysteresis_px,
        uturn_window_s: float = _DEFAULTS.uturn_window_s,
        forget_after_s: float = _DEFAULTS.forget_after_s,
        anchor: Anchor = _DEFAULTS.anchor,
        entry_backtrack_s: float = _DEFAULTS.entry_backtrack_s,
        entry_fit_frames: int = 10,
        confirm_share: float = _DEFAULTS.confirm_share,
    ) -> None:
        if hysteresis_px < 0 or uturn_window_s < 0:
            raise ValueError("hysteresis_px and uturn_window_s must be >= 0")
        if confirm_share < 0:
            raise ValueError("confirm_share must be >= 0")
        if entry_backtrack_s < 0 or entry_fit_frames < 2:
            raise ValueError("entry_backtrack_s must be >= 0 and entry_fit_frames >= 2")
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
        self.entry_backtrack_s = entry_backtrack_s
        self.entry_fit_frames = entry_fit_frames
        self.confirm_share = confirm_share
        self.voter = ClassVoter(class_names)
        self._tracks: dict[int, _TrackState] = {}
        self._counts: dict[str, dict[str, dict[str, int]]] = {
            name: {d.value: {} for d in Direction} for name in self.lines
        }
        self._first_frame: int | None = None
        self._recent: dict[str, deque[tuple[float, Direction, int]]] = {}  # per line: ts, direction, track
        self.moments: list[CountMoment] = []  # crossings registered by the latest update that may be wrong

    @classmethod
    def from_config(
        cls, camera: str, lines: Mapping[str, Line], class_names: list[str], cfg: CountingConfig
    ) -> CrossingCounter:
        """The counter a device runs with the ``counting:`` section ``cfg``."""
        return cls(
            camera,
            lines,
            class_names,
            hysteresis_px=cfg.hysteresis_px,
            uturn_window_s=cfg.uturn_window_s,
            forget_after_s=cfg.forget_after_s,
            anchor=cfg.anchor,
            entry_backtrack_s=cfg.entry_backtrack_s,
            confirm_share=cfg.confirm_share,
        )

    @property
    def counts(self) -> Mapping[str, Mapping[str, Mapping[str, int]]]:
        """Events reported so far: ``counts[line][direction][class]``."""
        return MappingProxyType({k: MappingProxyType(v) for k, v in self._counts.items()})

    @property
    def tracked(self) -> int:
        """Tracks held in memory (bounded by ``forget_after_s``)."""
        return len(self._tracks)

    def update(
        self,
        tracks: Tracks,
        ts: float,
        frame: int,
        detections: Detections | None = None,
        frame_hw: tuple[int, int] | None = None,
    ) -> list[CrossingEvent]:
        """Advance by one frame; return the events that became final on it.

        ``frame_hw`` (the picture's height and width) enables ``entry_backtrack_s``.
        """
        self.voter.update(tracks, detections)
        self.moments = []
        if self._first_frame is None:
            self._first_frame = frame
        events: list[CrossingEvent] = []
        anchors = self.anchor.points(tracks.xyxy)
        heights = (tracks.xyxy[:, 3] - tracks.xyxy[:, 1]).tolist()
        tids = tracks.track_id.tolist()
        for i, tid in enumerate(tids):
            if tid not in self._tracks:
                state = self._tracks[tid] = _TrackState(ts)
                if (
                    self.entry_backtrack_s
                    and frame_hw is not None
                    and frame > self._first_frame
                    and not touches_border(tracks.xyxy[i], frame_hw)
                ):
                    width = float(tracks.xyxy[i, 2] - tracks.xyxy[i, 0])
                    state.entry = _Entry(frame, ts, frame_hw, BORDER_WIDTHS * width)
            seen = self._tracks[tid]
            seen.sightings += 1
            seen.conf = float(tracks.confidence[i])
        for name, line in self.lines.items():
            dist = line.signed_distance(anchors)
            for i, tid in enumerate(tids):
                ls = self._tracks[tid].lines.setdefault(name, _LineState())
                point, beyond = Point(*anchors[i].tolist()), self.confirm_share * heights[i]
                self._observe(name, line, tid, ls, point, float(dist[i]), beyond, ts, frame, events)
        for i, tid in enumerate(tids):
            state = self._tracks[tid]
            state.last_seen_ts = ts
            entry = state.entry
            if entry is not None:
                entry.last, entry.last_ts = Point(*anchors[i].tolist()), ts
                entry.first = entry.first or entry.last
                entry.sightings += 1
                if entry.sightings >= self.entry_fit_frames:
                    self._enter(tid, state, set(tids), events)
        events.extend(self._expire(ts))
        return events

    def _enter(self, tid: int, state: _TrackState, visible: set[int], events: list[CrossingEvent]) -> None:
        """Count the lines a new track crossed just before it appeared (see ``entry_backtrack_s``)."""
        entry, state.entry = state.entry, None
        assert entry is not None
        first, last = entry.first, entry.last
        assert first is not None and last is not None
        span = entry.last_ts - entry.ts
        if span <= 0:
            return
        back = self.entry_backtrack_s / span
        dx, dy = (first.x - last.x) * back, (first.y - last.y) * back
        # only as far back as the person would have been in view: someone who walked in at the
        # picture's edge (where detectors find nobody yet) was not hidden
        h, w, m = entry.frame_hw[0], entry.frame_hw[1], entry.margin
        reach = 1.0  # the share of the run-back that stays inside the picture's edge band
        for pos, step, lo, hi in ((first.x, dx, m, w - m), (first.y, dy, 0.0, h - m)):
            if pos + step * reach > hi:
                reach = max(0.0, (hi - pos) / step)
            elif pos + step * reach < lo:
                reach = max(0.0, (lo - pos) / step)
        origin = Point(first.x + dx * reach, first.y + dy * reach)
        for name, line in self.lines.items():
            ls = state.lines.get(name)
            if ls is None or ls.side == 0 or ls.crossings:
                continue  # still on the line, or it crossed in view: the track's own path tells
            was = float(line.signed_distance(np.array([[origin.x, origin.y]]))[0])
            if ls.side * was >= -self.hysteresis_px or not line.segment_crossed(origin, last):
                continue
            direction = Direction.IN if ls.side > 0 else Direction.OUT
            since = entry.ts - self.entry_backtrack_s
            if any(
                d is direction and t != tid and t not in visible and since <= when <= entry.ts
                for when, d, t in self._recent.get(name, ())
            ):
                continue  # a track lost meanwhile made this crossing: likely this person, counted
            self._crossed(name, tid, ls, direction, entry.ts, entry.frame, events, run_back=True)

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
        beyond: float,
        ts: float,
        frame: int,
        events: list[CrossingEvent],
    ) -> None:
        """One sighting against one line; ``beyond`` is how far past the line a crossing must reach."""
        side = 1 if dist > self.hysteresis_px else -1 if dist < -self.hysteresis_px else 0
        if side == 0:
            return
        if ls.side == 0 or side == ls.side:
            ls.side, ls.anchor = side, point
            if ls.unconfirmed is not None and abs(dist) >= beyond:
                self._confirm(name, tid, ls, events)
            return
        # through the segment as drawn: a path round its end is no crossing, however close it passes
        crossed = ls.anchor is not None and line.segment_crossed(ls.anchor, point)
        ls.side, ls.anchor = side, point
        if not crossed:
            return
        direction = Direction.IN if side > 0 else Direction.OUT
        if ls.unconfirmed is not None:
            if ls.unconfirmed.direction is not direction:
                ls.unconfirmed = None  # back over the line before the crossing was confirmed: neither counts
            elif abs(dist) >= beyond:  # round the segment's end and through it again: the one crossing
                self._confirm(name, tid, ls, events)
            return
        if abs(dist) >= beyond:
            self._crossed(name, tid, ls, direction, ts, frame, events)
        else:
            ls.unconfirmed = _Pending(direction, frame, ts)

    def _confirm(self, name: str, tid: int, ls: _LineState, events: list[CrossingEvent]) -> None:
        """The held crossing counts, with the frame and time it crossed."""
        assert ls.unconfirmed is not None
        held, ls.unconfirmed = ls.unconfirmed, None
        self._crossed(name, tid, ls, held.direction, held.ts, held.frame, events)

    def _crossed(
        self,
        name: str,
        tid: int,
        ls: _LineState,
        direction: Direction,
        ts: float,
        frame: int,
        events: list[CrossingEvent],
        *,
        run_back: bool = False,
    ) -> None:
        ls.crossings += 1
        self._note_risks(name, tid, ls, run_back)
        self._recent.setdefault(name, deque(maxlen=64)).append((ts, direction, tid))
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

    def _note_risks(self, name: str, tid: int, ls: _LineState, run_back: bool) -> None:
        state = self._tracks[tid]
        checks = {
            CountRisk.SHORT_TRACK: state.sightings < RISK_SHORT_TRACK_FRAMES,
            CountRisk.LOW_CONF: state.conf < RISK_LOW_CONF,
            CountRisk.RUN_BACK: run_back,
            CountRisk.RECROSSED: ls.crossings > 1,
            CountRisk.CLOSE_VOTE: self.voter.margin(tid) < RISK_CLOSE_VOTE,
        }
        risks = tuple(risk for risk, yes in checks.items() if yes)
        if risks:
            self.moments.append(CountMoment(name, tid, risks))

    def _expire(self, now: float) -> list[CrossingEvent]:
        events: list[CrossingEvent] = []
        for tid in list(self._tracks):
            state = self._tracks[tid]
            for name, ls in state.lines.items():
                if ls.unconfirmed is not None and now - state.last_seen_ts > CONFIRM_LOST_S:
                    self._confirm(name, tid, ls, events)  # lost beyond the line: it went on
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

    # -- state ------------------------------------------------------------------------------------
    def get_state(self) -> bytes:
        """Everything needed to resume counting where it stopped, as versioned JSON."""

        def point(p: Point | None) -> list[float] | None:
            return None if p is None else [p.x, p.y]

        tracks = {}
        for tid, st in self._tracks.items():
            e = st.entry
            tracks[str(tid)] = {
                "last_seen_ts": st.last_seen_ts,
                "lines": {
                    name: {
                        "side": ls.side,
                        "anchor": point(ls.anchor),
                        "pending": _pending_doc(ls.pending),
                        "crossings": ls.crossings,
                        "unconfirmed": _pending_doc(ls.unconfirmed),
                    }
                    for name, ls in st.lines.items()
                },
                "entry": None
                if e is None
                else {
                    "frame": e.frame,
                    "ts": e.ts,
                    "frame_hw": list(e.frame_hw),
                    "margin": e.margin,
                    "first": point(e.first),
                    "last": point(e.last),
                    "last_ts": e.last_ts,
                    "sightings": e.sightings,
                },
                "sightings": st.sightings,
                "conf": st.conf,
            }
        doc = {
            "version": STATE_VERSION,
            "first_frame": self._first_frame,
            "counts": self._counts,
            "votes": self.voter.state(),
            "recent": {name: [[t, d.value, tid] for t, d, tid in q] for name, q in self._recent.items()},
            "tracks": tracks,
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    def set_state(self, state: bytes) -> None:
        """Resume from :meth:`get_state`; ``CounterStateError`` for anything else (the caller restarts)."""
        try:
            doc = json.loads(state)
            if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
                raise ValueError(f"version {doc.get('version') if isinstance(doc, dict) else None!r}")
            self._restore(doc)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise CounterStateError(f"not a counter state of version {STATE_VERSION}: {exc}") from None

    def _restore(self, doc: dict) -> None:
        def point(v: list[float] | None) -> Point | None:
            return None if v is None else Point(float(v[0]), float(v[1]))

        tracks: dict[int, _TrackState] = {}
        for tid, t in doc["tracks"].items():
            lines = {}
            for name, ls in t["lines"].items():
                if name not in self.lines:
                    continue
                lines[name] = _LineState(
                    int(ls["side"]),
                    point(ls["anchor"]),
                    _pending_of(ls["pending"]),
                    int(ls["crossings"]),
                    _pending_of(ls.get("unconfirmed")),  # later within version 1: absent in older states
                )
            e = t["entry"]
            entry = None
            if e is not None:
                h, w = e["frame_hw"]
                entry = _Entry(
                    int(e["frame"]),
                    float(e["ts"]),
                    (int(h), int(w)),
                    float(e["margin"]),
                    point(e["first"]),
                    point(e["last"]),
                    float(e["last_ts"]),
                    int(e["sightings"]),
                )
            # sightings and conf came later within version 1: a state without them resumes with defaults
            tracks[int(tid)] = _TrackState(
                float(t["last_seen_ts"]), lines, entry, int(t.get("sightings", 0)), float(t.get("conf", 1.0))
            )
        counts: dict[str, dict[str, dict[str, int]]] = {name: {d.value: {} for d in Direction} for name in self.lines}
        for name, by_direction in doc["counts"].items():
            if name in counts:
                for d, by_class in by_direction.items():
                    counts[name][Direction(d).value] = {str(c): int(n) for c, n in by_class.items()}
        recent = {
            name: deque(((float(t), Direction(d), int(tid)) for t, d, tid in q), maxlen=64)
            for name, q in doc["recent"].items()
            if name in self.lines
        }
        self._tracks, self._counts, self._recent = tracks, counts, recent
        self._first_frame = None if doc["first_frame"] is None else int(doc["first_frame"])
        self.voter.restore(doc["votes"])
