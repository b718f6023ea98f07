"""Detector backends on the real yolov5n checkpoint and its ONNX export."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from footfall.edge.config import ModelConfig
from footfall.edge.detectors import DETECTORS, ModelFileError, create_detector
from footfall.edge.detectors.common import ClassMapping, letterbox_shape
from tests.conftest import DATA, YOLOV5N_PT

BUS = DATA / "images" / "bus.jpg"


@pytest.fixture(scope="module")
def bus() -> np.ndarray:
    return cv2.imread(str(BUS))


def _cfg(path: Path, **kw: object) -> ModelConfig:
    return ModelConfig(path=path, classes=["person", "bus"], class_map=None, **kw)


@pytest.mark.parametrize("backend", sorted(DETECTORS))
def test_every_backend_finds_four_people_and_a_bus(backend: str, yolov5n_onnx: Path, bus: np.ndarray) -> None:
    path = yolov5n_onnx if backend == "onnx" else YOLOV5N_PT
    det = create_detector(_cfg(path, backend=backend))
    found = det.detect(bus)
    names = sorted(det.class_names[c] for c in found.class_id)
    assert names == ["bus", "person", "person", "person", "person"]
    h, w = bus.shape[:2]
    assert (found.xyxy[:, [0, 2]] <= w).all() and (found.xyxy[:, [1, 3]] <= h).all()
    assert found.class_probs is not None and found.class_probs.shape == (5, 2)


def test_onnx_and_torch_agree(yolov5n_onnx: Path, bus: np.ndarray) -> None:
    a = create_detector(_cfg(yolov5n_onnx)).detect(bus)
    b = create_detector(_cfg(YOLOV5N_PT)).detect(bus)
    order_a, order_b = np.argsort(a.xyxy[:, 0]), np.argsort(b.xyxy[:, 0])
    np.testing.assert_allclose(a.xyxy[order_a], b.xyxy[order_b], atol=1.0)
    np.testing.assert_allclose(a.confidence[order_a], b.confidence[order_b], atol=0.01)


def test_coco_model_counts_person_as_person_by_default(yolov5n_onnx: Path, bus: np.ndarray) -> None:
    det = create_detector(ModelConfig(path=yolov5n_onnx))  # product classes child/female/male, no map
    assert det.class_names == ("person",)
    assert len(det.detect(bus)) == 4


def test_person_mapped_to_a_product_class(yolov5n_onnx: Path, bus: np.ndarray) -> None:
    det = create_detector(ModelConfig(path=yolov5n_onnx, class_map={"person": "male_adult"}))
    found = det.detect(bus)
    assert det.class_names == ("child", "female_adult", "male_adult")
    assert {det.class_names[c] for c in found.class_id} == {"male_adult"}


def test_label_mismatch_lists_both_sets() -> None:
    with pytest.raises(ValueError, match=r"model classes \['a', 'b'\].*product classes \['child'\]"):
        ClassMapping.build(["a", "b"], ["child"], {"person": "child"})


def test_corrupt_model_is_refused(tmp_path: Path, yolov5n_onnx: Path) -> None:
    bad = tmp_path / "bad.onnx"
    data = bytearray(yolov5n_onnx.read_bytes())
    data[100:400] = b"\x00" * 300
    bad.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ModelFileError, match="not a loadable ONNX model"):
        create_detector(_cfg(bad))


def test_checksum_mismatch_is_refused(tmp_path: Path, yolov5n_onnx: Path) -> None:
    copy = tmp_path / "m.onnx"
    shutil.copy(yolov5n_onnx, copy)
    with pytest.raises(ModelFileError, match=r"has sha256 .* expected 0{64}"):
        create_detector(_cfg(copy, sha256="0" * 64))


def test_missing_model_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"model\.path"):
        create_detector(_cfg(tmp_path / "nope.onnx"))


@pytest.mark.parametrize(
    ("hw", "size", "input_hw"),
    [((360, 480), 480, (384, 480)), ((360, 480), 640, (480, 640)), ((1080, 1920), 640, (384, 640))],
)
def test_letterbox_pads_only_to_the_stride(hw: tuple[int, int], size: int, input_hw: tuple[int, int]) -> None:
    box, _ = letterbox_shape(hw, size, 32)
    assert box.input_hw == input_hw
