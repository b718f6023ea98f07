"""Detector backends behind one protocol, chosen by name from an explicit registry."""

from __future__ import annotations

import functools
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
    from footfall.edge.detectors.shared import DetectorLink


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


def counted_classes(cfg: ModelConfig) -> list[str] | None:
    """The product classes the model at ``cfg.path`` can report, through ``class_map`` or equal names;
    None when its class names cannot be read (no file, a .pt, a model without names)."""
    from footfall.edge.detectors.common import ClassMapping

    names = list(cfg.model_names) if cfg.model_names else _file_class_names(Path(cfg.path))
    if names is None:
        return None
    try:
        return list(ClassMapping.build(names, cfg.classes, cfg.class_map).counted)
    except ValueError:
        return None


def _file_class_names(path: Path) -> list[str] | None:
    """A fetched version's recorded class names, else the names an ONNX file carries (read once per
    file version: the dashboard asks on every page load)."""
    real = Path(os.path.realpath(path))
    if not real.is_file():
        return None
    st = real.stat()
    names = _class_names_of(str(real), st.st_mtime_ns, st.st_size)
    return list(names) if names is not None else None


@functools.lru_cache(maxsize=8)
def _class_names_of(path_str: str, _mtime_ns: int, _size: int) -> tuple[str, ...] | None:
    from footfall.registry.core import ModelVersion

    path = Path(path_str)  # already resolved by the caller
    meta_path = path.parent / "metadata.json"
    if meta_path.is_file():
        recorded = ModelVersion.from_dict(json.loads(meta_path.read_text())).class_names
        if recorded:
            return tuple(str(n) for n in recorded)
    if path.suffix != ".onnx":
        return None
    import onnxruntime as ort

    from footfall.edge.detectors.onnx import _parse_names

    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    return tuple(_parse_names(meta["names"])) if "names" in meta else None


def create_detector(cfg: ModelConfig, link: DetectorLink | None = None) -> Detector:
    """Build the detector named by ``cfg.backend`` (``auto`` picks by the file extension); with ``link``,
    an ONNX model runs in the device's shared detector (``detectors.shared``)."""
    backend = cfg.resolved_backend()
    try:
        factory = DETECTORS[backend]
    except KeyError:
        raise ValueError(f"Unknown detector backend {backend!r}. Available: {', '.join(sorted(DETECTORS))}") from None
    version = registry_version(cfg.path) if cfg.path.exists() else None
    if link is not None and backend == "onnx":
        from footfall.edge.detectors.shared import SharedDetector

        detector: Detector = SharedDetector(cfg, cfg.classes, cfg.class_map, link)
    else:
        detector = factory(cfg, cfg.classes, cfg.class_map)
    if version:
        detector.model_version = version
    return detector
