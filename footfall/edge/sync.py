"""Upload the capture spool: idempotent, resumable, local copies deleted only after confirmation.

Keys follow ``footfall.common.capture``: the parts of an item, then its completion marker, written
last: a reader takes only items with a marker. An
item whose upload was cut off is uploaded again under the same keys, so it ends up in the bucket
exactly once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from footfall.common.capture import ITEM_PARTS, CaptureKey, CaptureMarker, tracks_key
from footfall.edge.capture import Spool
from footfall.registry.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncResult:
    uploaded: int
    remaining: int
    seconds: float


def sync_spool(spool: Spool, target: Storage, store: str, *, batch: int = 500) -> SyncResult:
    """Upload every pending item, oldest first; raise on the first failure (nothing is lost)."""
    t0 = time.monotonic()
    done = 0
    while pending := spool.pending(batch):
        for item, camera, ts in pending:
            key = CaptureKey.of(store, camera, ts, item)
            paths = spool.paths(camera, item)
            if not paths[0].is_file():  # evicted meanwhile, or lost: drop the row
                spool.remove(camera, item)
                continue
            for path, (folder, ext) in zip(paths, ITEM_PARTS, strict=True):
                target.upload(key.part(folder, ext), path)
            target.put(key.done, CaptureMarker.for_item(item, camera, ts).to_json())
            spool.remove(camera, item)  # only now: every part is confirmed stored
            done += 1
    _sync_tracks(spool.root, target, store)
    return SyncResult(done, len(spool.pending(1)), time.monotonic() - t0)


def _sync_tracks(root: Path, target: Storage, store: str) -> None:
    for path in sorted(root.glob("*/tracks/*.txt")):
        camera = path.parent.parent.name
        target.upload(tracks_key(store, camera, path.name), path)
