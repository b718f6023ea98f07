"""Continuous-learning capture: informative frames with YOLO labels, and every track in MOT format.

Spool layout (one folder per camera, image-driven like a YOLO dataset)::

    SPOOL/manifest.db                       every item with its scores (SQLite, shared by cameras)
    SPOOL/CAMERA/images/ID.jpg              written last: an image is the item's commit point
    SPOOL/CAMERA/labels/ID.txt              YOLO ``class cx cy w h`` (normalised)
    SPOOL/CAMERA/meta/ID.json               confidences, class probabilities, track ids, model version
    SPOOL/CAMERA/tracks/SESSION.txt         MOT ``frame,id,x,y,w,h,conf,class,visibility``
    SPOOL/CAMERA/data.yaml                  class names, so the folder is a YOLO dataset as it is

Every file is written to a temporary name and renamed; labels and metadata go before the image, so a
reader that lists images never sees an image without its label, and the manifest row comes last.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from footfall.common.capture import ITEM_PARTS
from footfall.common.files import write_atomic
from footfall.common.lines import LineConfig
from footfall.common.localtime import DAY_S
from footfall.common.traffic import LineTraffic, line_traffic
from footfall.common.yolo import YoloBox, format_labels
from footfall.edge.config import CaptureConfig
from footfall.edge.sources import Frame
from footfall.edge.types import CountMoment, Detections, Tracks

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    camera TEXT NOT NULL,
    session TEXT NOT NULL,
    frame INTEGER NOT NULL,
    ts REAL NOT NULL,
    bytes INTEGER NOT NULL,
    reasons TEXT NOT NULL,
    boxes INTEGER NOT NULL,
    min_conf REAL,
    created REAL NOT NULL  -- wall clock of the capture: retention and eviction go by it
);
CREATE INDEX IF NOT EXISTS items_by_created ON items (created);
"""


class Spool:
    """The on-device store of captured items, bounded by a quota and a retention period."""

    @classmethod
    def of(cls, cfg: CaptureConfig) -> Spool:
        """The spool a device's ``capture:`` section describes."""
        return cls(cfg.dir, cfg.quota_mb * 1e6, cfg.retention_days * DAY_S)

    def __init__(self, root: Path, quota_bytes: float, retention_s: float) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.quota_bytes = quota_bytes
        self.retention_s = retention_s
        self._db = sqlite3.connect(str(self.root / "manifest.db"), timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def paths(self, camera: str, item: str) -> list[Path]:
        return [self.root / camera / folder / f"{item}{ext}" for folder, ext in ITEM_PARTS]

    def sweep(self, camera: str) -> int:
        """Remove what a crash left half-written: temp files, parts without an image, unlisted images."""
        listed = {r[0] for r in self._db.execute("SELECT id FROM items WHERE camera = ?", (camera,))}
        removed = 0
        base = self.root / camera
        for folder, ext in ITEM_PARTS:
            for path in (base / folder).glob("*") if (base / folder).is_dir() else []:
                stem = path.name[: -len(ext)] if path.name.endswith(ext) else None
                if path.name.startswith(".") or stem is None or stem not in listed:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    def add(
        self,
        camera: str,
        item: str,
        session: str,
        frame: int,
        ts: float,
        parts: dict[str, bytes],
        reasons: list[str],
        boxes: int,
        min_conf: float | None,
    ) -> None:
        image, label, meta = self.paths(camera, item)
        write_atomic(meta, parts["meta"])
        write_atomic(label, parts["label"])
        write_atomic(image, parts["image"])  # the commit point for readers of the folder
        size = sum(len(v) for v in parts.values())
        self._db.execute(
            "INSERT OR REPLACE INTO items (id, camera, session, frame, ts, bytes, reasons, boxes, min_conf, created) "
            "VALUES (?,?,?,?,?,?,?,?,?,?)",
            (item, camera, session, frame, ts, size, ",".join(reasons), boxes, min_conf, time.time()),
        )

    def remove(self, camera: str, item: str) -> None:
        for path in self.paths(camera, item):  # image first: the item leaves readers' view at once
            path.unlink(missing_ok=True)
        self._db.execute("DELETE FROM items WHERE id = ?", (item,))

    def used_bytes(self) -> int:
        return int(self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM items").fetchone()[0])

    def enforce(self, now: float) -> int:
        """Delete items past retention, then the oldest until 90 % of the quota; return how many."""
        gone = 0
        for item, camera in self._db.execute(
            "SELECT id, camera FROM items WHERE created < ? ORDER BY created", (now - self.retention_s,)
        ).fetchall():
            self.remove(camera, item)
            gone += 1
        for path in self.root.glob("*/tracks/*.txt"):
            if path.stat().st_mtime < now - self.retention_s:
                path.unlink(missing_ok=True)
        used = self.used_bytes()
        if used <= self.quota_bytes:
            return gone
        target = 0.9 * self.quota_bytes
        for item, camera, size in self._db.execute("SELECT id, camera, bytes FROM items ORDER BY created").fetchall():
            if used <= target:
                break
            self.remove(camera, item)
            used -= size
            gone += 1
        return gone

    def pending(self, limit: int = 1000) -> list[tuple[str, str, float]]:
        """(id, camera, ts) of items not uploaded yet, oldest first (an uploaded item leaves the spool)."""
        return self._db.execute("SELECT id, camera, ts FROM items ORDER BY created LIMIT ?", (limit,)).fetchall()

    def items(self) -> list[tuple[str, str, float, str]]:
        return self._db.execute("SELECT id, camera, ts, reasons FROM items ORDER BY created").fetchall()


@dataclass
class _Bucket:
    tokens: float
    last: float


class SamplingPolicy:
    """Decides which frames are worth an annotator's time, within a rate limit.

    Informative frames (a crossing that may be counted wrong — ``CountRisk``; borderline confidence, a
    track whose detections disagree on the class, a crowd, a track that just appeared or vanished) take
    one token of the per-camera bucket; a random
    or background frame is taken only while the bucket is more than half full, so it never crowds
    out an informative one. A frame too similar to the last saved one within ``min_gap_s`` is skipped.
    """

    def __init__(self, cfg: CaptureConfig, camera: str) -> None:
        self.cfg = cfg
        self.rate = cfg.max_per_minute / 60.0
        self.capacity = max(1.0, cfg.max_per_minute / 6)
        self._bucket = _Bucket(self.capacity, 0.0)
        self._rng = random.Random(f"{cfg.seed}:{camera}")
        self._last_saved: tuple[float, np.ndarray] | None = None

    def reasons(
        self, detections: Detections, disagreement: bool, appeared: bool, vanished: bool, count_risk: bool = False
    ) -> list[str]:
        lo, hi = self.cfg.informative_conf
        out = ["count_risk"] if count_risk else []
        if len(detections) and bool(((detections.confidence >= lo) & (detections.confidence < hi)).any()):
            out.append("borderline_conf")
        if disagreement:
            out.append("class_disagreement")
        if len(detections) >= self.cfg.crowd:
            out.append("crowd")
        if appeared:
            out.append("track_appeared")
        if vanished:
            out.append("track_vanished")
        return out

    def decide(self, ts: float, thumb: np.ndarray, informative: list[str], empty: bool) -> list[str] | None:
        b = self._bucket
        b.tokens = min(self.capacity, b.tokens + (ts - b.last) * self.rate) if b.last else b.tokens
        b.last = ts
        if self._last_saved is not None:
            last_ts, last_thumb = self._last_saved
            similar = float(np.abs(thumb.astype(np.int16) - last_thumb).mean()) < self.cfg.similar_below
            if similar and ts - last_ts < self.cfg.min_gap_s:
                return None
        if informative:
            reasons = informative
        elif empty and self._rng.random() < self.cfg.background_share:
            reasons = ["background"]
        elif not empty and self._rng.random() < self.cfg.random_share:
            reasons = ["random"]
        else:
            return None
        need = 1.0 if informative else self.capacity / 2 + 1.0
        if b.tokens < need:
            return None
        b.tokens -= 1.0
        self._last_saved = (ts, thumb)
        return reasons


class CaptureSink:
    """Per-camera capture inside the frame loop (a context manager; ``offer`` once per frame)."""

    def __init__(
        self,
        cfg: CaptureConfig,
        camera: str,
        session: str,
        class_names: list[str],
        model_version: str,
        spool: Spool | None = None,
    ) -> None:
        self.cfg = cfg
        self.camera = camera
        self.session = session
        self.class_names = list(class_names)
        self.model_version = model_version
        self.spool = spool or Spool.of(cfg)
        self.policy = SamplingPolicy(cfg, camera)
        self.saved = 0
        self._prev_ids: set[int] = set()
        self._track_classes: OrderedDict[int, Counter[int]] = OrderedDict()
        self._tracks_fh: Any = None
        self._mot_last = 0
        self._last_enforce = 0.0

    def __enter__(self) -> CaptureSink:
        cam_dir = self.spool.root / self.camera
        self.spool.sweep(self.camera)
        names = "".join(f"  {i}: {n}\n" for i, n in enumerate(self.class_names))
        write_atomic(cam_dir / "data.yaml", f"path: .\ntrain: images\nval: images\nnames:\n{names}".encode())
        if self.cfg.tracks:
            path = cam_dir / "tracks" / f"{self.session}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._mot_last = _last_mot_frame(path)
            self._tracks_fh = open(path, "a", buffering=1 << 16)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tracks_fh is not None:
            self._tracks_fh.close()
        self.spool.close()

    def offer(
        self,
        frame: Frame,
        detections: Detections,
        tracks: Tracks,
        model_version: str | None = None,
        moments: Sequence[CountMoment] = (),
    ) -> bool:
        """Record the frame's tracks; save the frame if the policy wants it. Return whether it was saved.

        ``model_version`` is the version of the model that produced ``detections`` (it changes when the
        model is swapped while running); a saved item carries it. ``moments`` are the crossings the
        counter registered on this frame that may be counted wrong (``CrossingCounter.moments``); a saved
        item lists them, and the harvest's count-aware selection scores them.
        """
        if model_version is not None:
            self.model_version = model_version
        if self._tracks_fh is not None and len(tracks) and frame.index + 1 > self._mot_last:
            # a resumed session replays frames after its checkpoint: their rows are already there
            self._write_mot(frame.index + 1, tracks)
        ids = set(tracks.track_id.tolist())
        appeared, vanished = bool(ids - self._prev_ids), bool(self._prev_ids - ids)
        self._prev_ids = ids
        disagreement = self._disagreement(tracks)
        informative = self.policy.reasons(detections, disagreement, appeared, vanished, bool(moments))
        thumb = cv2.resize(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY), (32, 32), interpolation=cv2.INTER_AREA)
        reasons = self.policy.decide(frame.ts, thumb, informative, empty=len(detections) == 0)
        if reasons is None:
            return False
        self._save(frame, detections, tracks, reasons, moments)
        if frame.ts - self._last_enforce > 10 or self.saved % 20 == 0:
            self.spool.enforce(time.time())
            self._last_enforce = frame.ts
        return True

    def _write_mot(self, frame_no: int, tracks: Tracks) -> None:
        rows = []
        for (x1, y1, x2, y2), tid, conf, cls in zip(
            tracks.xyxy.tolist(),
            tracks.track_id.tolist(),
            tracks.confidence.tolist(),
            tracks.class_id.tolist(),
            strict=True,
        ):
            rows.append(f"{frame_no},{tid},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{conf:.4f},{cls},1\n")
        self._tracks_fh.write("".join(rows))

    def _disagreement(self, tracks: Tracks) -> bool:
        found = False
        for tid, cls in zip(tracks.track_id.tolist(), tracks.class_id.tolist(), strict=True):
            seen = self._track_classes.setdefault(tid, Counter())
            self._track_classes.move_to_end(tid)
            if seen and cls not in seen:
                found = True
            seen[cls] += 1
        while len(self._track_classes) > 512:  # bounded: forget the least recently seen tracks
            self._track_classes.popitem(last=False)
        return found

    def _save(
        self, frame: Frame, detections: Detections, tracks: Tracks, reasons: list[str], moments: Sequence[CountMoment]
    ) -> None:
        h, w = frame.image.shape[:2]
        image = frame.image
        if self.cfg.blur_heads and len(detections):
            image = blur_heads(image, detections.xyxy)
        ok, jpg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.cfg.jpeg_quality])
        if not ok:
            return
        track_of = {
            int(d): int(t) for t, d in zip(tracks.track_id.tolist(), tracks.det_index.tolist(), strict=True) if d >= 0
        }
        boxes = []
        labels = []
        for i, ((x1, y1, x2, y2), conf, cls) in enumerate(
            zip(detections.xyxy.tolist(), detections.confidence.tolist(), detections.class_id.tolist(), strict=True)
        ):
            labels.append(YoloBox.from_xyxy(cls, x1, y1, x2, y2, w, h))
            boxes.append(
                {
                    "class_id": cls,
                    "class": self.class_names[cls],
                    "confidence": round(conf, 4),
                    "class_probs": None
                    if detections.class_probs is None
                    else [round(float(p), 4) for p in detections.class_probs[i]],
                    "track_id": track_of.get(i),
                    "xyxy": [round(v, 2) for v in (x1, y1, x2, y2)],
                }
            )
        item = f"{self.camera}-{self.session[-12:]}-{frame.index:08d}"
        meta = {
            "id": item,
            "camera": self.camera,
            "session": self.session,
            "frame": frame.index,
            "ts": frame.ts,
            "model_version": self.model_version,
            "width": w,
            "height": h,
            "reasons": reasons,
            "class_names": self.class_names,
            "boxes": boxes,
            "count_risk": [{"line": m.line, "track_id": m.track_id, "risks": list(m.risks)} for m in moments],
            "heads_blurred": self.cfg.blur_heads,
            "dhash": dhash(frame.image),
        }
        self.spool.add(
            self.camera,
            item,
            self.session,
            frame.index,
            frame.ts,
            {
                "image": jpg.tobytes(),
                "label": format_labels(labels).encode(),
                "meta": json.dumps(meta).encode(),
            },
            reasons,
            len(boxes),
            float(detections.confidence.min()) if len(detections) else None,
        )
        self.saved += 1


def dhash(image: np.ndarray) -> str:
    """64-bit difference hash of an image (hex): near-identical frames differ in a few bits, so the
    harvest can drop near-duplicates without downloading images."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return f"{int(np.packbits(bits).view('>u8')[0]):016x}"


def recent_tracks(spool: Path, camera: str, max_rows: int = 50_000) -> np.ndarray:
    """MOT rows ``frame, id, x, y, w, h`` of the newest track files of ``camera`` in a spool (at most
    ``max_rows``, newest sessions first); identities of different sessions are kept apart."""
    files = sorted((spool / camera / "tracks").glob("*.txt"), key=lambda p: p.stat().st_mtime, reverse=True)
    parts: list[np.ndarray] = []
    left = max_rows
    for k, path in enumerate(files):
        if left <= 0:
            break
        rows = [r.split(b",")[:6] for r in tail_lines(path, left) if r.count(b",") >= 5]
        try:
            block = np.array(rows, dtype=np.float64).reshape(-1, 6)
        except ValueError:
            continue  # not a track file of ours
        block[:, 1] += k * 1e7  # session k's identities apart from the others'
        parts.append(block)
        left -= len(block)
    return np.vstack(parts) if parts else np.zeros((0, 6))


def tail_lines(path: Path, count: int, row_bytes: int = 64) -> list[bytes]:
    """The last ``count`` lines of a file, reading only as much of its end as they need (a camera's track
    file grows for as long as its session runs)."""
    with path.open("rb") as f:
        size = f.seek(0, os.SEEK_END)
        want = max(1, count) * row_bytes
        while True:
            start = max(0, size - want)
            f.seek(start)
            lines = f.read().splitlines()
            if start > 0:
                lines = lines[1:]  # begins mid-line
            if len(lines) >= count or start == 0:
                return lines[-count:] if count > 0 else []
            want *= 2


def traffic_of(spool: Path, camera: str, lines: Sequence[LineConfig]) -> dict[str, LineTraffic]:
    """Where people walked near each of ``lines`` (by name), from ``camera``'s recent tracks in a spool."""
    rows = recent_tracks(spool, camera)
    return {line.name: line_traffic(rows, line.to_line()) for line in lines}


def _last_mot_frame(path: Path) -> int:
    """Frame number of the last complete row of a MOT file (0 if none); drops a torn last line."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    return int(last.split(b",", 1)[0]) if last else 0


def blur_heads(image: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """Pixelate the top fifth of every box (where a standing person's head is), on a copy."""
    out = image.copy()
    h, w = out.shape[:2]
    for x1, y1, x2, y2 in np.asarray(xyxy).round().astype(int):
        x1, x2 = max(0, x1), min(w, x2)
        y1, y2 = max(0, y1), min(h, y1 + max(1, (y2 - y1) // 5) + 1)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        region = out[y1:y2, x1:x2]
        small = cv2.resize(region, (max(1, (x2 - x1) // 6), max(1, (y2 - y1) // 6)), interpolation=cv2.INTER_AREA)
        out[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
    return out
