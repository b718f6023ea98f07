"""Capture records from what the stores uploaded (``footfall edge sync``) into a columnar table.

The layout read (local folder or S3, as ``edge sync`` writes it) is ``footfall.common.capture``.
Only items with a ``done`` marker are read (an upload cut half-way is invisible). Per frame the
table keeps what selection needs: uncertainty (the most uncertain box), predicted class counts,
disagreement (share of its tracks whose class differs between frames of the pool), count risk (the
kinds of ``CountRisk`` the device noted for crossings on the frame) and the perceptual hash the device
computed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from footfall.common.capture import ROOT as CAPTURES
from footfall.common.capture import CaptureKey, CaptureMarker
from footfall.harvest.select import Records, uncertainty_of
from footfall.registry.storage import Storage

COUNT_RISK_KINDS_FOR_FULL = 3  # a frame whose crossings carry this many kinds of risk scores 1.0


@dataclass(frozen=True)
class Item:
    """Where one captured frame lives, and its metadata."""

    key: CaptureKey
    ts: float
    meta: dict[str, Any]

    @property
    def item(self) -> str:
        return self.key.item

    @property
    def store(self) -> str:
        return self.key.store

    @property
    def camera(self) -> str:
        return self.key.camera

    @property
    def image_key(self) -> str:
        return self.key.image


def _days(since: float, until: float) -> set[str]:
    day = datetime.fromtimestamp(since, UTC).date()
    last = datetime.fromtimestamp(until, UTC).date()
    out = set()
    while day <= last:
        out.add(day.strftime("%Y-%m-%d"))
        day += timedelta(days=1)
    return out


def list_items(storage: Storage, since: float, until: float) -> list[Item]:
    """Every uploaded item with ``since <= ts < until``, oldest first."""
    wanted = _days(since, until) if until - since < 400 * 86400 else None
    items = []
    for key in storage.list(f"{CAPTURES}/"):
        where = CaptureKey.parse_done(key)
        if where is None or (wanted is not None and where.day not in wanted):
            continue
        marker = CaptureMarker.from_json(storage.get(key)[0])
        if not since <= marker.ts < until:
            continue
        meta = json.loads(storage.get(where.meta)[0])
        items.append(Item(where, marker.ts, meta))
    items.sort(key=lambda i: i.ts)
    return items


def to_records(
    items: list[Item],
    classes: list[str],
    conf_threshold: float = 0.25,
    class_map: dict[str, str] | None = None,
) -> Records:
    """The columnar table for ``harvest.select``; ``class_map`` renames the capturing model's classes."""
    class_map = class_map or {}
    stores = sorted({i.store for i in items})
    cameras = sorted({f"{i.store}/{i.camera}" for i in items})
    n = len(items)
    counts = np.zeros((n, len(classes)), np.int64)
    uncertainty = np.zeros(n)
    dhash = np.zeros(n, np.uint64)
    mass = np.zeros((n, len(classes)))
    layout = np.zeros(n, np.uint64)
    track_classes: dict[tuple[str, str, str, int], set[str]] = defaultdict(set)
    for row, item in enumerate(items):
        boxes = item.meta.get("boxes", [])
        model_classes = [class_map.get(c, c) for c in item.meta.get("class_names", [])]
        for b in boxes:
            cls = class_map.get(b["class"], b["class"])
            if cls in classes:
                counts[row, classes.index(cls)] += 1
            probs = b.get("class_probs")
            if probs and len(probs) == len(model_classes) and sum(probs) > 0:
                total = sum(probs)
                for name, p in zip(model_classes, probs, strict=True):  # one box is one unit of mass
                    if name in classes:
                        mass[row, classes.index(name)] += p / total
            elif cls in classes:
                mass[row, classes.index(cls)] += 1.0
            if b.get("track_id") is not None:
                track_classes[(item.store, item.camera, item.meta.get("session", ""), b["track_id"])].add(b["class"])
        if boxes:
            probs = [b.get("class_probs") or [1.0] for b in boxes]
            width = max(len(p) for p in probs)
            matrix = np.array([p + [0.0] * (width - len(p)) for p in probs])
            uncertainty[row] = float(
                uncertainty_of(matrix, np.array([b["confidence"] for b in boxes]), conf_threshold).max()
            )
        if item.meta.get("dhash"):
            dhash[row] = np.uint64(int(item.meta["dhash"], 16))
        layout[row] = _layout(boxes, item.meta.get("width"), item.meta.get("height"))
    disagreement = np.zeros(n)
    count_risk = np.zeros(n)
    for row, item in enumerate(items):
        kinds = {risk for moment in item.meta.get("count_risk", []) for risk in moment.get("risks", [])}
        count_risk[row] = min(1.0, len(kinds) / COUNT_RISK_KINDS_FOR_FULL)
        tracked = [b["track_id"] for b in item.meta.get("boxes", []) if b.get("track_id") is not None]
        if tracked:
            key = (item.store, item.camera, item.meta.get("session", ""))
            flips = sum(len(track_classes[(*key, t)]) > 1 for t in tracked)
            disagreement[row] = flips / len(tracked)
    return Records(
        ids=np.array([i.item for i in items], dtype=object),
        store=np.array([stores.index(i.store) for i in items], np.int64),
        camera=np.array([cameras.index(f"{i.store}/{i.camera}") for i in items], np.int64),
        ts=np.array([i.ts for i in items], np.float64),
        dhash=dhash,
        uncertainty=uncertainty,
        disagreement=disagreement,
        class_counts=counts,
        count_risk=count_risk,
        class_mass=mass,
        layout=layout,
        stores=stores,
        cameras=cameras,
        classes=list(classes),
    )


def _layout(boxes: list[dict[str, Any]], width: float | None, height: float | None) -> np.uint64:
    """The cells of an 8 × 8 grid over the picture that hold a box's foot point, as 64 bits."""
    bits = 0
    if width and height:
        for b in boxes:
            x1, _, x2, y2 = b["xyxy"]
            cx = min(7, max(0, int(8 * (x1 + x2) / 2 / width)))
            cy = min(7, max(0, int(8 * y2 / height)))
            bits |= 1 << (cy * 8 + cx)
    return np.uint64(bits)
