"""The YOLO box and its label files: one owner for the ``class cx cy w h`` line every part reads and writes.

A label file holds one line per box, class index then centre and size normalised to 0..1; an empty
file is a background image.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class DatasetError(ValueError):
    """A dataset file or version that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class YoloBox:
    """One box as YOLO stores it: class index and normalised centre/size."""

    cls: int
    cx: float
    cy: float
    w: float
    h: float

    @classmethod
    def from_xyxy(cls, class_id: int, x1: float, y1: float, x2: float, y2: float, width: int, height: int) -> YoloBox:
        """A box from pixel corners in an image of ``width`` × ``height``."""
        return cls(class_id, (x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height)

    def xyxy(self, width: int, height: int) -> tuple[float, float, float, float]:
        """Pixel corners in an image of ``width`` × ``height``."""
        return (
            (self.cx - self.w / 2) * width,
            (self.cy - self.h / 2) * height,
            (self.cx + self.w / 2) * width,
            (self.cy + self.h / 2) * height,
        )

    def with_class(self, class_id: int) -> YoloBox:
        return YoloBox(class_id, self.cx, self.cy, self.w, self.h)

    def line(self) -> str:
        """The label-file line, six decimals."""
        return f"{self.cls} {self.cx:.6f} {self.cy:.6f} {self.w:.6f} {self.h:.6f}"


def format_labels(boxes: Iterable[YoloBox]) -> str:
    """A label file's text: one line per box, newline-terminated; empty for a background image."""
    return "".join(f"{b.line()}\n" for b in boxes)


def write_labels(path: Path, boxes: Iterable[YoloBox]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_labels(boxes))


def read_labels(path: Path, num_classes: int) -> list[YoloBox]:
    """Boxes of one label file; an error names the file, the line and what is wrong."""
    boxes = []
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        where = f"{path}:{lineno}"
        if len(parts) != 5:
            raise DatasetError(f"{where}: expected 'class cx cy w h', got {line!r}")
        try:
            cls, cx, cy, w, h = int(parts[0]), *map(float, parts[1:])
        except ValueError:
            raise DatasetError(f"{where}: not numbers: {line!r}") from None
        if not 0 <= cls < num_classes:
            raise DatasetError(f"{where}: class {cls} outside 0..{num_classes - 1} (data.yaml names)")
        if not (0 <= cx <= 1 and 0 <= cy <= 1 and 0 < w <= 1 and 0 < h <= 1):
            raise DatasetError(f"{where}: coordinates must be normalised to 0..1 with w, h > 0: {line!r}")
        boxes.append(YoloBox(cls, cx, cy, w, h))
    return boxes
