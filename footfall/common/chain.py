"""The contract between a store's device and the chain's central store: what a device ships.

A device ships its crossings in batches, in the order it stored them (``seq``, its outbox order), with
the lines of its config. Every crossing carries its idempotency key, the one the device's own store
deduplicates by: (camera, session, line, track_id, frame). The central store inserts a crossing at most
once by that key within the store, so a batch sent twice (a lost answer, a crash on either side, a
replayed week) adds nothing the second time. The device forgets a batch only after the central store
answered with ``acked_seq``.

The device never holds database credentials: it holds a token of its own (revocable), and the central
store's catalogue says which store that device belongs to and which cameras it ships (the device does
not name its store: the catalogue is the one owner of that).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

from footfall.common.config import NAME_PATTERN
from footfall.common.lines import Points

INGEST_PATH = "/v1/ingest"
MAX_BATCH = 5000  # crossings per request: one transaction on the central side, a few hundred kB


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShippedCrossing(_Record):
    """One crossing as the device stored it."""

    seq: int = Field(ge=1, description="The device's outbox order (shipping order).")
    camera: str = Field(pattern=NAME_PATTERN)
    session: str = Field(min_length=1, max_length=200)
    line: str = Field(pattern=NAME_PATTERN)
    track_id: int
    frame: int = Field(ge=0)
    ts: FiniteFloat
    class_name: str = Field(pattern=NAME_PATTERN)
    direction: Literal["in", "out", "uturn"]
    first_direction: Literal["in", "out"] | None = None
    model_version: str | None = None

    @property
    def key(self) -> tuple[str, str, str, int, int]:
        return (self.camera, self.session, self.line, self.track_id, self.frame)


class ShippedLine(_Record):
    """A counting line as the device's config has it when shipping (the central store keeps each change
    of geometry as a new version of the line)."""

    camera: str = Field(pattern=NAME_PATTERN)
    line: str = Field(pattern=NAME_PATTERN)
    points: Points
    invert: bool = False


class Batch(_Record):
    """One request of a device: its crossings in ``seq`` order, and its lines."""

    device: str = Field(
        pattern=NAME_PATTERN, description="The device's name (its token says it; a mismatch is refused)."
    )
    sent_ts: FiniteFloat = Field(description="The device's clock when sending (the central store reports skew).")
    crossings: list[ShippedCrossing] = Field(default_factory=list, max_length=MAX_BATCH)
    lines: list[ShippedLine] = Field(default_factory=list, max_length=1000)


class Ack(_Record):
    """The central store's answer: everything up to ``acked_seq`` is stored (``added`` of it new)."""

    acked_seq: int
    added: int
    duplicates: int
