"""Detector backends behind one protocol, chosen by name from an explicit registry."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from footfall.common.files import sha256_file
from footfall.edge.types import Detections

if TYPE_CHECKING:
    from footfall.edge.config import ModelConfig


class ModelFileError(ValueError):
    """A model file is missing, corrupt, or not the one the config names by checksum."""


@runtime_checkable
class Detector(Protocol):
    """Finds people in one BGR frame."""

    class_names: tuple[str, ...]
    model_version: str
    sha256: str  # of the model file: what /health reports beside the version

    def detect(self, frame_bgr: np.ndarray) -> Detections: ...


def check_model_file(path: Path, expected_sha256: str | None) -> str:
    """Refuse a missing file or one whose checksum differs; return the checksum."""
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist. Fix: set model.path to an existing file")
    actual = sha256_file(path)
    if expected_sha256 and actual != expected_sha256.lower():
        raise ModelFileError(
            f"model file {path} has sha256 {actual}, expected {expected_sha256} (model.sha256); "
            "the file is corrupt or not the intended version"
        )
    return actual


def _onnx(cfg: ModelConfig, product_classes: Sequence[str], class_map: Mapping[str, str] | None) -> Detector:
    from footfall.edge.detectors.onnx import OnnxDetector

    return OnnxDetector.from_config(cfg, product_classes, class_map)


def _torch(cfg: ModelConfig, product_classes: Sequence[str], class_map: Mapping[str, str] | None) -> Detector:
    from footfall.edge.detectors.torch import TorchDetector

    return TorchDetector.from_config(cfg, product_classes, class_map)


DETECTORS: dict[str, Callable[[ModelConfig, Sequence[str], Mapping[str, str] | None], Detector]] = {
    "onnx": _onnx,
    "torch": _torch,
}


def registry_version(path: Path) -> str | None:
    """``NAME:VERSION`` of a model placed by ``footfall registry fetch``, after checking its checksum.

    A fetched version folder holds ``metadata.json`` with the SHA-256 of every artefact; a file that
    no longer matches it is refused.
    """
    real = Path(os.path.realpath(path))
    meta_path = real.parent / "metadata.json"
    if not meta_path.is_file():
        return None
    from footfall.registry.core import ModelVersion

    meta = ModelVersion.from_dict(json.loads(meta_path.read_text()))
    entry = meta.files.get(real.name)
    if entry is not None:
        check_model_file(real, entry.sha256)
    return meta.ref


def create_detector(cfg: ModelConfig) -> Detector:
    """Build the detector named by ``cfg.backend`` (``auto`` picks by the file extension)."""
    backend = cfg.resolved_backend()
    try:
        factory = DETECTORS[backend]
    except KeyError:
        raise ValueError(f"Unknown detector backend {backend!r}. Available: {', '.join(sorted(DETECTORS))}") from None
    version = registry_version(cfg.path) if cfg.path.exists() else None
    detector = factory(cfg, cfg.classes, cfg.class_map)
    if version:
        detector.model_version = version
    return detector
