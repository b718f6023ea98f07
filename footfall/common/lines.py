"""The counting-line schema: one format for the config file, the command line and the dashboard."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from footfall.common.config import NAME_PATTERN, Section
from footfall.common.geometry import Line, Point


class LineConfig(Section):
    name: str = Field(pattern=NAME_PATTERN, description="Line name, unique per camera (letters, digits, _ . -).")
    points: tuple[tuple[float, float], tuple[float, float]] = Field(
        description="Start and end [[x1, y1], [x2, y2]] in pixels of the source frame."
    )
    invert: bool = Field(
        False,
        description="Swap in and out. Without it, 'in' is the start→end vector turned 90° "
        "counter-clockwise on screen: a line drawn top→bottom counts left→right as in.",
    )

    @field_validator("points")
    @classmethod
    def _distinct(cls, v: tuple[tuple[float, float], tuple[float, float]]) -> Any:
        if v[0] == v[1]:
            raise ValueError("start and end points are equal; give two distinct points")
        if any(c < 0 for p in v for c in p):
            raise ValueError("coordinates are pixels of the source frame and cannot be negative")
        return v

    def to_line(self) -> Line:
        return Line(Point(*self.points[0]), Point(*self.points[1]), self.invert)


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
