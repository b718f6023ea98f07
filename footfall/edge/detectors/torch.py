"""YOLOv5 on PyTorch, reading the original checkpoint format (``yolov5n.pt``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from footfall.edge.detectors import ModelFileError, check_model_file
from footfall.edge.detectors.common import YoloV5Backend, common_options
from footfall.edge.detectors.yolov5_compat import load_checkpoint_model, model_names

if TYPE_CHECKING:
    from footfall.edge.config import ModelConfig


class TorchDetector(YoloV5Backend):
    """Runs an original YOLOv5 checkpoint on the CPU (or CUDA when ``device`` says so)."""

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
        threads: int = 0,
        sha256: str | None = None,
        device: str = "cpu",
    ) -> None:
        import torch

        self.sha256 = check_model_file(path, sha256)
        if threads:
            torch.set_num_threads(threads)
        try:
            self._model = load_checkpoint_model(path).to(device)
        except (ImportError, ModuleNotFoundError):
            raise
        except Exception as exc:
            raise ModelFileError(f"model file {path} is not a loadable YOLOv5 checkpoint: {exc}") from exc
        self._torch = torch
        self._device = device
        self.stride = int(max(self._model.stride))
        self.model_version = self.sha256[:12]
        self._setup(
            model_names(self._model), product_classes, class_map, input_size, conf_threshold, iou_threshold, max_det
        )

    @classmethod
    def from_config(
        cls, cfg: ModelConfig, product_classes: Sequence[str], class_map: Mapping[str, str] | None
    ) -> TorchDetector:
        return cls(cfg.path, product_classes, class_map, **common_options(cfg))

    def _forward(self, blob: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            out = self._model(self._torch.from_numpy(blob).to(self._device))
        return np.asarray((out[0] if isinstance(out, (list, tuple)) else out)[0].cpu().numpy())
