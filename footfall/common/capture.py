"""The capture layout in the bucket: one owner for the keys ``edge sync`` writes and the harvest reads.

::

    captures/STORE/CAMERA/DAY/images/ITEM.jpg    the frame
    captures/STORE/CAMERA/DAY/labels/ITEM.txt    the model's boxes as YOLO lines
    captures/STORE/CAMERA/DAY/meta/ITEM.json     the model's boxes (class, confidence, probs, track)
    captures/STORE/CAMERA/DAY/done/ITEM.json     written last: the item is complete (a ``CaptureMarker``)
    captures/STORE/CAMERA/tracks/SESSION.txt     MOT tracks of a session

DAY is the UTC day of the frame (``YYYY-MM-DD``). A reader takes only items with a ``done`` marker.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from footfall.common.config import NAME_PATTERN

ROOT = "captures"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# the parts of one item, in upload order; ``done`` is the marker, written after them
ITEM_PARTS: tuple[tuple[str, str], ...] = (("images", ".jpg"), ("labels", ".txt"), ("meta", ".json"))
DONE = "done"


def capture_day(ts: float) -> str:
    """The UTC day folder of a frame taken at epoch ``ts``."""
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


@dataclass(frozen=True)
class CaptureKey:
    """Where one captured item lives in the bucket."""

    store: str
    camera: str
    day: str
    item: str

    @classmethod
    def of(cls, store: str, camera: str, ts: float, item: str) -> CaptureKey:
        return cls(store, camera, capture_day(ts), item)

    @classmethod
    def parse_done(cls, key: str) -> CaptureKey | None:
        """The item whose completion marker is ``key``; None for any other key."""
        parts = key.split("/")
        if len(parts) != 6 or parts[0] != ROOT or parts[4] != DONE or not parts[5].endswith(".json"):
            return None
        _, store, camera, day, _, name = parts
        item = name.removesuffix(".json")
        # the parts become local paths in the harvest (harvest/STORE/CAMERA/ITEM.jpg): a store's device
        # writes these keys, so '..' or a stray name is not an item
        if not (all(re.fullmatch(NAME_PATTERN, p) for p in (store, camera, item)) and _DAY.fullmatch(day)):
            return None
        return cls(store, camera, day, item)

    @property
    def prefix(self) -> str:
        return f"{ROOT}/{self.store}/{self.camera}/{self.day}"

    def part(self, folder: str, ext: str) -> str:
        return f"{self.prefix}/{folder}/{self.item}{ext}"

    @property
    def image(self) -> str:
        return self.part("images", ".jpg")

    @property
    def meta(self) -> str:
        return self.part("meta", ".json")

    @property
    def done(self) -> str:
        return self.part(DONE, ".json")


def tracks_key(store: str, camera: str, file_name: str) -> str:
    return f"{ROOT}/{store}/{camera}/tracks/{file_name}"


@dataclass(frozen=True)
class CaptureMarker:
    """The completion marker of one uploaded item: its id, camera, frame time and parts."""

    id: str
    camera: str
    ts: float
    files: tuple[str, ...]

    @classmethod
    def for_item(cls, item: str, camera: str, ts: float) -> CaptureMarker:
        return cls(item, camera, ts, tuple(f"{folder}/{item}{ext}" for folder, ext in ITEM_PARTS))

    def to_json(self) -> bytes:
        return json.dumps({"id": self.id, "camera": self.camera, "ts": self.ts, "files": list(self.files)}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> CaptureMarker:
        doc = json.loads(data)
        return cls(str(doc["id"]), str(doc["camera"]), float(doc["ts"]), tuple(doc.get("files", ())))
