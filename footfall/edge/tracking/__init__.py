"""Multi-object trackers behind one protocol, chosen by name from an explicit registry.

ByteTrack, the CPU default, is this package's own NumPy code (``edge.tracking.bytetrack``: boxmot's
algorithm, without the torch that importing boxmot loads). Only ``edge.tracking.boxmot_backend``
imports boxmot, for the others. Each tracker's defaults live next to it in
``edge/tracking/<name>.yaml``; the config's ``tracker.params`` override them key by key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import yaml

from footfall.edge.types import Detections, Tracks

TRACKERS: dict[str, str] = {
    # name → boxmot class ("" when footfall's own); "needs_reid" trackers use appearance embeddings.
    "strongsort": "StrongSort",
    "bytetrack": "",
    "ocsort": "OcSort",
    # boxmot's ByteTrack: the same tracks as "bytetrack" (tests/edge/test_bytetrack.py), with torch
    # loaded; kept as the reference the own implementation and bench/soak.py compare against
    "boxmot-bytetrack": "ByteTrack",
}
_DEFAULTS_OF = {"boxmot-bytetrack": "bytetrack"}  # trackers that share another's packaged defaults
NEEDS_REID = frozenset({"strongsort"})

_DEFAULTS_DIR = Path(__file__).parent


class TrackerStateError(ValueError):
    """A saved tracker state this version cannot read (the caller starts the sequence again)."""


_SAFE_BUILTINS = {("builtins", "set"), ("builtins", "frozenset"), ("collections", "deque")}


def load_state(state: bytes, *modules: str) -> object:
    """Unpickle a saved tracker state that may build only classes of ``modules``, NumPy arrays, sets and
    deques: an old or foreign state (boxmot's, or one planted in the checkpoint) is refused unread."""
    import io
    import pickle

    class Restricted(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if module in modules or module.split(".")[0] == "numpy" or (module, name) in _SAFE_BUILTINS:
                return super().find_class(module, name)
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a tracker state")

    try:
        return Restricted(io.BytesIO(state)).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as exc:
        raise TrackerStateError(f"not a saved tracker state: {exc}") from exc


@runtime_checkable
class Tracker(Protocol):
    """Associates detections across frames into identities."""

    name: str

    def update(self, detections: Detections, frame_bgr: np.ndarray) -> Tracks: ...

    def get_state(self) -> bytes:
        """Everything needed to continue the sequence in another process (no model weights)."""
        ...

    def set_state(self, state: bytes) -> None: ...


def tracker_defaults(name: str) -> dict[str, Any]:
    """The packaged defaults of tracker ``name``."""
    check_tracker_name(name)
    with open(_DEFAULTS_DIR / f"{_DEFAULTS_OF.get(name, name)}.yaml") as fh:
        return dict(yaml.safe_load(fh) or {})


def check_tracker_name(name: str) -> None:
    if name not in TRACKERS:
        raise ValueError(f"Unknown tracker {name!r}. Available: {', '.join(sorted(TRACKERS))}")


def create_tracker(
    name: str,
    params: dict[str, Any] | None = None,
    *,
    reid_weights: Path | None = None,
    reid_cache_dir: Path | None = None,
    threads: int = 0,
    stitch_max_gap_frames: int = 0,
) -> Tracker:
    """Build tracker ``name`` with its packaged defaults overridden by ``params``."""
    merged = tracker_defaults(name)
    unknown = sorted(set(params or {}) - set(merged))
    if unknown:
        raise ValueError(
            f"tracker.params has unknown keys {unknown} for tracker {name!r}; known keys: {sorted(merged)}"
        )
    merged.update(params or {})
    if name in NEEDS_REID and reid_weights is None:
        raise ValueError(f"tracker {name!r} needs tracker.reid_weights (a local OSNet .pt or .onnx file)")
    tracker: Tracker
    if not TRACKERS[name]:
        from footfall.edge.tracking.bytetrack import NumpyByteTrack

        tracker = NumpyByteTrack(merged)
    else:
        from footfall.edge.tracking.boxmot_backend import BoxmotTracker

        tracker = BoxmotTracker(
            name,
            merged,
            reid_weights=reid_weights if name in NEEDS_REID else None,
            reid_cache_dir=reid_cache_dir,
            threads=threads,
        )
    if stitch_max_gap_frames > 0:
        from footfall.edge.tracking.stitching import StitchedTracker, TrackletStitcher

        tracker = StitchedTracker(tracker, TrackletStitcher(max_gap_frames=stitch_max_gap_frames))
    return tracker
