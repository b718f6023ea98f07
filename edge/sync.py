"""Upload the capture spool: idempotent, resumable, local copies deleted only after confirmation.

Keys are ``captures/STORE/CAMERA/DAY/{images,labels,meta}/ID.ext`` and a completion marker
``captures/STORE/CAMERA/DAY/done/ID.json`` written last: a reader takes only items with a marker. An
item whose upload was cut off is uploaded again under the same keys, so it ends up in the bucket
exactly once.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from edge.capture import ITEM_PARTS, Spool
from registry.storage import Storage

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
            day = time.strftime("%Y-%m-%d", time.gmtime(ts))
            prefix = f"captures/{store}/{camera}/{day}"
            paths = spool.paths(camera, item)
            if not paths[0].is_file():  # evicted meanwhile, or lost: drop the row
                spool.remove(camera, item)
                continue
            for path, (folder, ext) in zip(paths, ITEM_PARTS, strict=True):
                target.upload(f"{prefix}/{folder}/{item}{ext}", path)
            marker = {"id": item, "camera": camera, "ts": ts, "files": [f"{f}/{item}{e}" for f, e in ITEM_PARTS]}
            target.put(f"{prefix}/done/{item}.json", json.dumps(marker).encode())
            spool.remove(camera, item)  # only now: every part is confirmed stored
            done += 1
    _sync_tracks(spool.root, target, store)
    return SyncResult(done, len(spool.pending(1)), time.monotonic() - t0)


def _sync_tracks(root: Path, target: Storage, store: str) -> None:
    for path in sorted(root.glob("*/tracks/*.txt")):
        camera = path.parent.parent.name
        target.upload(f"captures/{store}/{camera}/tracks/{path.name}", path)
