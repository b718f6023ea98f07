"""Value types passed between the stages of the edge pipeline.

Each type is validated once on construction; an error names the field, the expected shape and the
actual one. Arrays are copied to the expected dtype, so a stage never mutates its caller's arrays.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


def _as_array(name: str, value: object, dtype: type, shape: tuple[int | None, ...]) -> np.ndarray:
    arr: np.ndarray = np.array(value, dtype=dtype, copy=True)
    if arr.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(arr.shape, shape, strict=False)
    ):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class Detections:
    """Boxes found in one frame, in pixels of the source frame.

    Attributes:
        xyxy: (N, 4) float32 corners x1, y1, x2, y2.
        confidence: (N,) float32 detection score (objectness x class score for YOLOv5).
        class_id: (N,) int32 index into the product class list.
        class_probs: optional (N, C) float32 class scores over the product classes, for voting and
            for the continuous-learning capture.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    class_probs: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", _as_array("Detections.xyxy", self.xyxy, np.float32, (None, 4)))
        n = len(self.xyxy)
        object.__setattr__(self, "confidence", _as_array("Detections.confidence", self.confidence, np.float32, (n,)))
        object.__setattr__(self, "class_id", _as_array("Detections.class_id", self.class_id, np.int32, (n,)))
        if self.class_probs is not None:
            probs = _as_array("Detections.class_probs", self.class_probs, np.float32, (n, None))
            object.__setattr__(self, "class_probs", probs)

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls, num_classes: int | None = None) -> Detections:
        probs = None if num_classes is None else np.zeros((0, num_classes), np.float32)
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0), probs)

    def as_rows(self) -> np.ndarray:
        """(N, 6) rows x1, y1, x2, y2, conf, class — the layout trackers consume."""
        return np.column_stack([self.xyxy, self.confidence, self.class_id]).astype(np.float32)


@dataclass(frozen=True)
class Tracks:
    """Confirmed tracks output by a tracker for one frame.

    Attributes:
        xyxy: (M, 4) float32 box corners in source-frame pixels.
        track_id: (M,) int64 identity, stable over the track's life.
        confidence: (M,) float32 score of the matched detection.
        class_id: (M,) int32 class of the matched detection (not the vote; see ``ClassVoter``).
        det_index: (M,) int32 index of the matched detection in this frame's ``Detections``, -1 when
            the tracker reports a predicted box without a detection.
    """

    xyxy: np.ndarray
    track_id: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    det_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", _as_array("Tracks.xyxy", self.xyxy, np.float32, (None, 4)))
        n = len(self.xyxy)
        object.__setattr__(self, "track_id", _as_array("Tracks.track_id", self.track_id, np.int64, (n,)))
        object.__setattr__(self, "confidence", _as_array("Tracks.confidence", self.confidence, np.float32, (n,)))
        object.__setattr__(self, "class_id", _as_array("Tracks.class_id", self.class_id, np.int32, (n,)))
        det_index = self.det_index if len(self.det_index) or n == 0 else np.full(n, -1)
        object.__setattr__(self, "det_index", _as_array("Tracks.det_index", det_index, np.int32, (n,)))

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> Tracks:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))


class Direction(enum.StrEnum):
    """Which way a crossing went; ``UTURN`` is a crossing reversed within the U-turn window."""

    IN = "in"
    OUT = "out"
    UTURN = "uturn"


@dataclass(frozen=True)
class CrossingEvent:
    """One counted crossing of one line by one track.

    ``frame`` and ``ts`` are those of the (first) crossing; for a U-turn ``first_direction`` says
    which way the person went before turning back. The tuple (camera, session, line, track_id, frame)
    identifies the event, so replaying the same frames after a crash cannot count it twice.
    """

    camera: str
    line: str
    track_id: int
    frame: int
    ts: float
    class_name: str
    direction: Direction
    first_direction: Direction | None = None

    def __post_init__(self) -> None:
        if self.direction is Direction.UTURN and self.first_direction not in (Direction.IN, Direction.OUT):
            raise ValueError("CrossingEvent.first_direction must be 'in' or 'out' for a U-turn")
        if self.frame < 0:
            raise ValueError(f"CrossingEvent.frame must be >= 0, got {self.frame}")


class CountRisk(enum.StrEnum):
    """Why a counted crossing may be wrong: the moments worth an annotator's time (issue #21).

    ``SHORT_TRACK``: the track was seen only a few frames when it crossed (a fragment, or a false
    detection that moved). ``LOW_CONF``: its box was weak when it crossed. ``RUN_BACK``: the crossing was
    inferred for a track that appeared from behind something, not seen. ``RECROSSED``: the same track
    crossed this line before (a U-turn, or feet jittering on the line). ``CLOSE_VOTE``: the class it is
    counted under won its vote narrowly.
    """

    SHORT_TRACK = "short_track"
    LOW_CONF = "low_conf"
    RUN_BACK = "run_back"
    RECROSSED = "recrossed"
    CLOSE_VOTE = "close_vote"


@dataclass(frozen=True)
class CountMoment:
    """A crossing the counter registered on this frame that may be counted wrong, and why."""

    line: str
    track_id: int
    risks: tuple[CountRisk, ...]


class CrossingKey(NamedTuple):
    """What a running crossing count is kept by: line, class and direction."""

    line: str
    class_name: str
    direction: Direction

    @classmethod
    def of(cls, event: CrossingEvent) -> CrossingKey:
        return cls(event.line, event.class_name, event.direction)
