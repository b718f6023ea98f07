"""The one module that imports boxmot.

The ReID network runs on ONNX Runtime instead of boxmot's torch backend: on this project's 2-core
CPU reference machine OSNet x0.25 costs ~23 ms a crop in torch and ~4–6 ms in ONNX Runtime.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from footfall.common.geometry import box_iou
from footfall.edge.tracking import TRACKERS
from footfall.edge.types import Detections, Tracks

log = logging.getLogger(__name__)

_REID_MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
_REID_STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)


def export_reid_onnx(weights: Path, out: Path) -> Path:
    """Export boxmot ReID ``.pt`` weights (e.g. OSNet x0.25) to ONNX, atomically."""
    import torch
    from boxmot.reid.core import ReID

    backend = ReID(weights=weights, device="cpu", half=False).model
    net = backend.model.eval()
    h, w = backend.input_shape
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    torch.onnx.export(
        net,
        (torch.zeros(2, 3, h, w),),
        str(tmp),
        input_names=["crops"],
        output_names=["features"],
        dynamic_axes={"crops": {0: "batch"}, "features": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    os.replace(tmp, out)
    return out


class OnnxReID:
    """OSNet on ONNX Runtime with boxmot's ``get_features(xyxy, image)`` interface."""

    def __init__(self, onnx_path: Path, threads: int = 0, input_hw: tuple[int, int] = (256, 128)) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see OnnxDetector
        self._session = ort.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self.input_hw = input_hw
        self.crops_encoded = 0

    def get_features(self, xyxy: np.ndarray, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        batch = np.empty((len(xyxy), 3, *self.input_hw), np.float32)
        for i, (x1, y1, x2, y2) in enumerate(np.asarray(xyxy)[:, :4].round().astype(int)):
            x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
            crop = image[y1:y2, x1:x2] if x2 > x1 and y2 > y1 else np.zeros((*self.input_hw, 3), np.uint8)
            crop = cv2.resize(crop, (self.input_hw[1], self.input_hw[0]), interpolation=cv2.INTER_LINEAR)
            batch[i] = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
        batch = (batch / 255.0 - _REID_MEAN) / _REID_STD
        self.crops_encoded += len(batch)
        feats = self._session.run(None, {self._input: batch.astype(np.float32)})[0]
        norms = np.linalg.norm(feats, axis=1, keepdims=True)
        return feats / np.where(norms > 1e-12, norms, 1.0)


def resolve_reid_onnx(weights: Path, cache_dir: Path | None) -> Path:
    """An ONNX file for ``weights``: itself when already ONNX, else a cached export keyed by checksum."""
    if not weights.is_file():
        raise FileNotFoundError(f"ReID weights {weights} do not exist. Fix: set tracker.reid_weights")
    if weights.suffix == ".onnx":
        return weights
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    cache = (cache_dir or weights.parent) / f"{weights.stem}-{digest}.onnx"
    if not cache.exists():
        log.info("exporting ReID weights %s to %s (once)", weights, cache)
        export_reid_onnx(weights, cache)
    return cache


class _ReusingReID:
    """Reuses a track's last embedding for a detection that clearly continues it.

    A detection gets a fresh embedding when it overlaps another detection (IoU > ``overlap_iou``),
    when no previous track box overlaps it by ``match_iou``, or when the matched track's embedding
    is ``refresh`` frames old. That is where appearance decides identities; elsewhere motion does.
    """

    def __init__(self, reid: OnnxReID, refresh: int, match_iou: float = 0.6, overlap_iou: float = 0.1) -> None:
        self.reid = reid
        self.refresh = refresh
        self.match_iou = match_iou
        self.overlap_iou = overlap_iou
        self.frame = 0
        self._prev_boxes = np.zeros((0, 4), np.float32)
        self._prev_feats = np.zeros((0, 1), np.float32)
        self._prev_age = np.zeros(0, np.int64)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["reid"] = None
        return state

    def get_features(self, xyxy: np.ndarray, image: np.ndarray) -> np.ndarray:
        boxes = np.asarray(xyxy, np.float32)[:, :4]
        n = len(boxes)
        fresh = np.ones(n, bool)
        src = np.full(n, -1)
        if self.refresh > 1 and len(self._prev_boxes) and n:
            iou_prev = box_iou(boxes, self._prev_boxes)
            iou_self = box_iou(boxes, boxes)
            np.fill_diagonal(iou_self, 0)
            best = iou_prev.argmax(1)
            ok = (iou_prev.max(1) >= self.match_iou) & (iou_self.max(1) <= self.overlap_iou)
            ok &= self._prev_age[best] < self.refresh
            # a previous box may feed only one detection
            ok &= np.bincount(best[ok], minlength=len(self._prev_boxes))[best] == 1
            fresh, src = ~ok, np.where(ok, best, -1)
        feats = np.empty((n, self._prev_feats.shape[1] if not fresh.all() else 0), np.float32)
        if fresh.any():
            new = self.reid.get_features(boxes[fresh], image)
            feats = np.empty((n, new.shape[1]), np.float32)
            feats[fresh] = new
        if (~fresh).any():
            feats[~fresh] = self._prev_feats[src[~fresh]]
        age = np.zeros(n, np.int64)
        if (~fresh).any():
            age[~fresh] = self._prev_age[src[~fresh]] + 1
        self._prev_boxes, self._prev_feats, self._prev_age = boxes, feats, age
        return feats


class BoxmotTracker:
    """A boxmot tracker adapted to ``edge.tracking.Tracker``."""

    def __init__(
        self,
        name: str,
        params: dict[str, Any],
        *,
        reid_weights: Path | None = None,
        reid_cache_dir: Path | None = None,
        threads: int = 0,
    ) -> None:
        import boxmot
        import torch

        if threads:
            torch.set_num_threads(threads)
        params = dict(params)
        refresh = int(params.pop("reid_refresh_frames", 1))
        self.name = name
        cls = getattr(boxmot, TRACKERS[name])
        self._reid: _ReusingReID | None = None
        if reid_weights is not None:
            onnx_path = resolve_reid_onnx(Path(reid_weights), reid_cache_dir)
            self._reid = _ReusingReID(OnnxReID(onnx_path, threads=threads), refresh)
            params["reid_model"] = self._reid
        self._tracker = cls(**params)
        # A store camera does not move: camera-motion compensation (ECC) would only cost time.
        if hasattr(self._tracker, "cmc"):
            self._tracker.cmc = None

    @property
    def crops_encoded(self) -> int:
        return self._reid.reid.crops_encoded if self._reid is not None else 0

    def update(self, detections: Detections, frame_bgr: np.ndarray) -> Tracks:
        out = self._tracker.update(detections.as_rows(), frame_bgr)
        if out is None or len(out) == 0:
            return Tracks.empty()
        return Tracks(out[:, :4], out[:, 4], out[:, 5], out[:, 6], out[:, 7])

    def get_state(self) -> bytes:
        import cloudpickle  # boxmot's motion models hold lambdas, which plain pickle refuses

        live = getattr(self._tracker, "_reid_model", None)
        self._tracker._reid_model = None
        try:
            return cloudpickle.dumps({"tracker": self._tracker, "reid": self._reid})
        finally:
            self._tracker._reid_model = live

    def set_state(self, state: bytes) -> None:
        restored = pickle.load(io.BytesIO(state))
        tracker, reid = restored["tracker"], restored["reid"]
        if reid is not None and self._reid is not None:
            reid.reid = self._reid.reid
            self._reid = reid
        tracker._reid_model = self._reid
        if hasattr(tracker, "cmc"):
            tracker.cmc = None
        self._tracker = tracker
