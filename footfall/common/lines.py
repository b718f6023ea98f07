"""The counting-line schema: one format for the config file, the command line and the dashboard."""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, PositiveInt, field_validator

from footfall.common.config import NAME_PATTERN, Section
from footfall.common.geometry import Line, Point

# two points of two finite coordinates each: NaN or infinity is no pixel (and crashed the live view)
Point2 = tuple[FiniteFloat, FiniteFloat]
Points = tuple[Point2, Point2]


class LineConfig(Section):
    name: str = Field(pattern=NAME_PATTERN, description="Line name, unique per camera (letters, digits, _ . -).")
    points: Points = Field(description="Start and end [[x1, y1], [x2, y2]] in pixels of the source frame.")
    invert: bool = Field(
        False,
        description="Swap in and out. Without it, 'in' is the start→end vector turned 90° "
        "counter-clockwise on screen: a line drawn top→bottom counts left→right as in.",
    )

    @field_validator("points")
    @classmethod
    def _distinct(cls, v: Points) -> Any:
        if v[0] == v[1]:
            raise ValueError("start and end points are equal; give two distinct points")
        if any(c < 0 for p in v for c in p):
            raise ValueError("coordinates are pixels of the source frame and cannot be negative")
        return v

    def to_line(self) -> Line:
        return Line(Point(*self.points[0]), Point(*self.points[1]), self.invert)


EDGE_MARGIN = 0.03  # of the picture's side: a line within it all along runs along the edge
MIN_LENGTH = 0.05  # of the picture's diagonal


def placement_problems(line: LineConfig, width: int, height: int) -> tuple[list[str], list[str]]:
    """(errors, warnings) of where a line lies in a ``width`` × ``height`` picture. An error: a point
    outside the picture (nobody's feet are ever there). Warnings: a line so short that a walking person
    steps over it between two frames, or one that runs along the picture's edge, where people enter and
    leave the view half seen (the line families in docs/experiments.md had their worst errors there)."""
    errors, warnings = [], []
    outside = [list(p) for p in line.points if not (0 <= p[0] <= width and 0 <= p[1] <= height)]
    if outside:
        errors.append(
            f"line {line.name}: {outside} lies outside the {width}x{height} picture; draw it inside (the live page)"
        )
    (x1, y1), (x2, y2) = line.points
    length, diagonal = math.hypot(x2 - x1, y2 - y1), math.hypot(width, height)
    if length < MIN_LENGTH * diagonal:
        warnings.append(
            f"line {line.name} is {length:.0f} px long, under {MIN_LENGTH:.0%} of the picture's diagonal: people "
            "may step over it between two frames; draw it across the whole passage"
        )
    mx, my = EDGE_MARGIN * width, EDGE_MARGIN * height
    borders = (
        max(x1, x2) <= mx,
        min(x1, x2) >= width - mx,
        max(y1, y2) <= my,
        min(y1, y2) >= height - my,
    )
    if any(borders):
        warnings.append(
            f"line {line.name} runs along the picture's edge, where people come into and leave the view half "
            f"seen; move it at least {max(mx, my):.0f} px inside"
        )
    return errors, warnings


def parse_line_arg(spec: str) -> dict[str, Any]:
    """``NAME=x1,y1,x2,y2`` (optionally ``,invert``) → a line mapping for ``LineConfig``."""
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)=([^=]+)", spec.strip())
    if not m:
        raise ValueError(f"--line {spec!r}: expected NAME=x1,y1,x2,y2, e.g. door=240,0,240,360")
    parts = [p.strip() for p in m.group(2).split(",")]
    invert = parts[-1].lower() == "invert"
    if invert:
        parts = parts[:-1]
    try:
        x1, y1, x2, y2 = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--line {spec!r}: expected four numbers x1,y1,x2,y2 after '='") from None
    return {"name": m.group(1), "points": [[x1, y1], [x2, y2]], "invert": invert}


class LineEdit(BaseModel):
    """A line as the dashboard sends it: shape and finiteness checked here; name rules, distinct points
    and the rest by the config validation that follows, which names the key."""

    model_config = ConfigDict(extra="forbid")

    name: str
    points: Points
    invert: bool = False


class LinesUpdate(BaseModel):
    """The body of a line save; ``config_version`` (from ``/api/meta``) is required, so that a save based on
    an older file than the one on disk is refused rather than silently overwriting it."""

    model_config = ConfigDict(extra="forbid")

    lines: list[LineEdit]
    config_version: str = Field(min_length=1)
    # [width, height] of the picture the lines were drawn on (the camera's frames are scaled to it)
    frame_size: tuple[PositiveInt, PositiveInt] | None = None
