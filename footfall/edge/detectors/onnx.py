"""YOLOv5 on ONNX Runtime: the default on CPU; on a Jetson it uses the TensorRT/CUDA providers."""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort

from footfall.edge.detectors import ModelFileError, check_model_file
from footfall.edge.detectors.common import ModelInfo, YoloV5Backend, common_options

if TYPE_CHECKING:
    from footfall.edge.config import ModelConfig

log = logging.getLogger(__name__)


def _parse_names(raw: str) -> list[str]:
    try:
        names = json.loads(raw)
    except json.JSONDecodeError:
        names = ast.literal_eval(raw)  # yolov5's own export writes a Python dict repr
    if isinstance(names, dict):
        return [names[k] for k in sorted(names, key=int)]
    return list(names)


class OnnxModel:
    """One ONNX Runtime session of a YOLOv5 model file: a batch of blobs in, raw predictions out.

    The camera's own detector and the device's shared detector (``detectors.shared``) both run their
    network through this class, so they give the same predictions for the same picture.
    """

    def __init__(
        self,
        path: Path,
        *,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        threads: int = 0,
        sha256: str | None = None,
        model_names: Sequence[str] | None = None,
    ) -> None:
        sha = check_model_file(path, sha256)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.log_severity_level = 3
        # Idle threads must not spin: the ReID network and other cameras share these cores.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        available = ort.get_available_providers()
        chosen = [p for p in providers if p in available] or ["CPUExecutionProvider"]
        try:
            self._session = ort.InferenceSession(str(path), sess_options=opts, providers=chosen)
        except Exception as exc:  # onnxruntime raises its own untyped errors for a broken file
            raise ModelFileError(f"model file {path} is not a loadable ONNX model: {exc}") from exc
        self.provider = chosen[0]
        meta = self._session.get_modelmeta().custom_metadata_map
        names = list(model_names) if model_names else _parse_names(meta["names"]) if "names" in meta else None
        if names is None:
            raise ModelFileError(f"model file {path} carries no class names. Fix: set model.model_names")
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        h, w = inp.shape[2], inp.shape[3]
        # a model exported before the batch axis was dynamic takes one picture per run
        self.max_batch = 1 if isinstance(inp.shape[0], int) else None
        self.info = ModelInfo(
            names=tuple(names),
            stride=int(float(meta.get("stride", 32))),
            fixed_hw=(h, w) if isinstance(h, int) and isinstance(w, int) else None,
            model_version=meta.get("model_version", sha[:12]),
            sha256=sha,
        )

    def forward(self, blob: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) → (B, N, 5 + classes)."""
        if self.max_batch == 1 and len(blob) > 1:
            return np.concatenate([self.forward(blob[i : i + 1]) for i in range(len(blob))])
        return np.asarray(self._session.run(None, {self._input_name: blob})[0])


class OnnxDetector(YoloV5Backend):
    """Runs a YOLOv5 ONNX model exported by ``footfall edge export-onnx`` (or by yolov5's export)."""

    def __init__(
        self,
        path: Path,
        product_classes: Sequence[str],
        class_map: Mapping[str, str] | None = None,
        *,
        input_size: int = 640,
        conf_threshold: float = 0.25,
        iou_threshold: float = 0.45,
        max_det: int = 300,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        threads: int = 0,
        sha256: str | None = None,
        model_names: Sequence[str] | None = None,
    ) -> None:
        self._model = OnnxModel(path, providers=providers, threads=threads, sha256=sha256, model_names=model_names)
        info = self._model.info
        self.sha256 = info.sha256
        self.stride = info.stride
        self.model_version = info.model_version
        self._fixed_hw = info.fixed_hw
        self._setup(info.names, product_classes, class_map, input_size, conf_threshold, iou_threshold, max_det)
        log.info("ONNX detector %s on %s, classes %s", path.name, self._model.provider, list(self.class_names))

    @classmethod
    def from_config(
        cls, cfg: ModelConfig, product_classes: Sequence[str], class_map: Mapping[str, str] | None
    ) -> OnnxDetector:
        return cls(
            cfg.path,
            product_classes,
            class_map,
            providers=cfg.providers,
            model_names=cfg.model_names,
            **common_options(cfg),
        )

    def _forward(self, blob: np.ndarray) -> np.ndarray:
        return self._model.forward(blob)[0]
