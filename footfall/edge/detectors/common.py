"""Pre- and post-processing shared by every YOLOv5 backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from footfall.edge.types import Detections


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model file says about itself: what a detector needs beside the session."""

    names: tuple[str, ...]
    stride: int
    fixed_hw: tuple[int, int] | None  # a model exported at one input size
    model_version: str
    sha256: str


@dataclass(frozen=True)
class Letterbox:
    """How a frame was resized and padded into the network input."""

    gain: float
    pad_x: float
    pad_y: float
    input_hw: tuple[int, int]


def letterbox_shape(frame_hw: tuple[int, int], input_size: int, stride: int) -> tuple[Letterbox, tuple[int, int]]:
    """Scale the long side to ``input_size`` and pad each side to a multiple of ``stride``.

    Padding only to the stride (not to a square) keeps a 4:3 camera at 4:3: for 480×360 at 480 px the
    network sees 480×384 instead of 480×480, a fifth less work for the same detections.
    """
    h, w = frame_hw
    gain = input_size / max(h, w)
    new_w, new_h = round(w * gain), round(h * gain)
    in_w = int(np.ceil(new_w / stride) * stride)
    in_h = int(np.ceil(new_h / stride) * stride)
    return Letterbox(gain, (in_w - new_w) / 2, (in_h - new_h) / 2, (in_h, in_w)), (new_h, new_w)


def letterbox(
    frame_bgr: np.ndarray, input_size: int, stride: int, fixed_hw: tuple[int, int] | None = None
) -> tuple[np.ndarray, Letterbox]:
    """Frame → the network's picture (uint8 BGR, resized and padded with grey) plus the letterbox used."""
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
        raise ValueError(f"frame must have shape (H, W, 3), got {frame_bgr.shape}")
    h, w = frame_bgr.shape[:2]
    if fixed_hw is not None:
        gain = min(fixed_hw[0] / h, fixed_hw[1] / w)
        new_h, new_w = round(h * gain), round(w * gain)
        box = Letterbox(gain, (fixed_hw[1] - new_w) / 2, (fixed_hw[0] - new_h) / 2, fixed_hw)
    else:
        box, (new_h, new_w) = letterbox_shape((h, w), input_size, stride)
    img = (
        frame_bgr if (new_w, new_h) == (w, h) else cv2.resize(frame_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    )
    top, left = round(box.pad_y - 0.1), round(box.pad_x - 0.1)
    bottom, right = box.input_hw[0] - new_h - top, box.input_hw[1] - new_w - left
    if top or bottom or left or right:
        img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return np.ascontiguousarray(img), Letterbox(box.gain, float(left), float(top), box.input_hw)


def to_blob(pictures: Sequence[np.ndarray]) -> np.ndarray:
    """Letterboxed BGR pictures of one size → the (B, 3, H, W) float32 RGB batch in [0, 1]."""
    return np.asarray(cv2.dnn.blobFromImages(list(pictures), scalefactor=1 / 255.0, swapRB=True))


def preprocess(
    frame_bgr: np.ndarray, input_size: int, stride: int, fixed_hw: tuple[int, int] | None = None
) -> tuple[np.ndarray, Letterbox]:
    """Frame → (1, 3, H, W) float32 RGB blob in [0, 1] plus the letterbox used."""
    picture, box = letterbox(frame_bgr, input_size, stride, fixed_hw)
    return to_blob([picture]), box


@dataclass(frozen=True)
class ClassMapping:
    """Which model classes count as which product class.

    ``model_ids[k]`` is a model class id and ``product_ids[k]`` the product class it feeds. A product
    class fed by several model classes takes the highest score among them.
    """

    model_ids: np.ndarray
    product_ids: np.ndarray
    product_names: tuple[str, ...]

    @property
    def counted(self) -> tuple[str, ...]:
        """The product classes this model can report at all (a COCO model mapped to one class reports
        only that one: the others read 0 because nobody is told apart, not because nobody came)."""
        return tuple(self.product_names[i] for i in sorted(set(self.product_ids.tolist())))

    @classmethod
    def build(
        cls, model_names: Sequence[str], product_names: Sequence[str], class_map: Mapping[str, str] | None
    ) -> ClassMapping:
        """Map by the explicit ``class_map`` (model name → product name) or else by equal names.

        A COCO model (no product class among its names, but ``person``) with no ``class_map`` counts
        its ``person`` class as the single product class ``person``.
        """
        mapping = dict(class_map) if class_map else {n: n for n in model_names if n in product_names}
        if not class_map and not mapping and "person" in model_names:
            mapping, product_names = {"person": "person"}, ["person"]
        unknown_model = sorted(set(mapping) - set(model_names))
        unknown_product = sorted(set(mapping.values()) - set(product_names))
        if unknown_model or unknown_product or not mapping:
            raise ValueError(
                "model and product classes do not match: "
                f"model classes {list(model_names)[:10]}{'…' if len(model_names) > 10 else ''}, "
                f"product classes {list(product_names)}, class_map {mapping or '{}'}"
                + (f"; unknown model classes {unknown_model}" if unknown_model else "")
                + (f"; unknown product classes {unknown_product}" if unknown_product else "")
                + ". Fix: set model.class_map, e.g. {person: <one of the product classes>}"
            )
        pairs = [(list(model_names).index(m), list(product_names).index(p)) for m, p in mapping.items()]
        return cls(
            np.array([m for m, _ in pairs], np.int64),
            np.array([p for _, p in pairs], np.int64),
            tuple(product_names),
        )


def postprocess(
    pred: np.ndarray,
    box: Letterbox,
    frame_hw: tuple[int, int],
    mapping: ClassMapping,
    conf_threshold: float,
    iou_threshold: float,
    max_det: int = 300,
) -> Detections:
    """Raw YOLOv5 output (N, 5 + num_model_classes) → Detections in frame pixels.

    NMS is class-agnostic: one person must not survive twice as a child and as an adult.
    """
    num_product = len(mapping.product_names)
    pred = pred[pred[:, 4] > conf_threshold]
    if not len(pred):
        return Detections.empty(num_product)
    scores = pred[:, 5 + mapping.model_ids]
    probs = np.zeros((len(pred), num_product), np.float32)
    for k, pid in enumerate(mapping.product_ids.tolist()):
        np.maximum(probs[:, pid], scores[:, k], out=probs[:, pid])
    cls = probs.argmax(1)
    conf = pred[:, 4] * probs[np.arange(len(pred)), cls]
    keep = conf > conf_threshold
    if not keep.any():
        return Detections.empty(num_product)
    pred, probs, cls, conf = pred[keep], probs[keep], cls[keep], conf[keep]
    xywh = pred[:, :4].copy()
    xywh[:, :2] -= xywh[:, 2:] / 2
    kept = cv2.dnn.NMSBoxes(xywh.tolist(), conf.tolist(), conf_threshold, iou_threshold, top_k=max_det)
    idx = np.asarray(kept, dtype=np.int64).reshape(-1)
    xyxy = np.column_stack([xywh[idx, :2], xywh[idx, :2] + xywh[idx, 2:]])
    xyxy[:, [0, 2]] = ((xyxy[:, [0, 2]] - box.pad_x) / box.gain).clip(0, frame_hw[1])
    xyxy[:, [1, 3]] = ((xyxy[:, [1, 3]] - box.pad_y) / box.gain).clip(0, frame_hw[0])
    return Detections(xyxy, conf[idx], cls[idx], probs[idx])


class YoloV5Backend:
    """What every YOLOv5 backend shares: class mapping, thresholds, letterbox → forward → NMS.

    A backend sets ``stride`` (and ``_fixed_hw`` for a fixed-shape model), calls ``_setup`` and
    implements ``_forward`` (blob → raw predictions).
    """

    stride: int = 32
    _fixed_hw: tuple[int, int] | None = None

    def _setup(
        self,
        model_names: Sequence[str],
        product_classes: Sequence[str],
        class_map: Mapping[str, str] | None,
        input_size: int,
        conf_threshold: float,
        iou_threshold: float,
        max_det: int,
    ) -> None:
        self.model_names = list(model_names)
        self._mapping = ClassMapping.build(model_names, product_classes, class_map)
        self.class_names = self._mapping.product_names
        self.input_size = input_size
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self.max_det = max_det

    def _forward(self, blob: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _infer(self, picture: np.ndarray) -> np.ndarray:
        """The letterboxed picture → raw predictions (N, 5 + model classes); a shared detector sends it away."""
        return self._forward(to_blob([picture]))

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        picture, box = letterbox(frame_bgr, self.input_size, self.stride, self._fixed_hw)
        return postprocess(
            self._infer(picture),
            box,
            frame_bgr.shape[:2],
            self._mapping,
            self.conf_threshold,
            self.iou_threshold,
            self.max_det,
        )


def common_options(cfg: Any) -> dict[str, Any]:
    """The ``ModelConfig`` fields every backend takes."""
    return {
        "input_size": cfg.input_size,
        "conf_threshold": cfg.conf_threshold,
        "iou_threshold": cfg.iou_threshold,
        "max_det": cfg.max_det,
        "threads": cfg.threads,
        "sha256": cfg.sha256,
    }
