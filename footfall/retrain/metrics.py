"""Detection metrics: COCO-style average precision per class, precision/recall at a threshold.

Pure NumPy, no framework: the same code scores the production model and the candidate, whatever
produced their boxes. Matching is greedy by confidence (each ground-truth box matches at most one
prediction of its class, the highest-scoring one with IoU at or above the threshold); AP is the
area under the interpolated precision envelope sampled at 101 recall points, as COCO and YOLOv5 do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from footfall.common.geometry import box_iou

IOU_THRESHOLDS = np.round(np.linspace(0.5, 0.95, 10), 2)


@dataclass(frozen=True)
class ImageResult:
    """Predictions and ground truth for one image, boxes as (N, 4) x1, y1, x2, y2 in pixels."""

    pred_xyxy: np.ndarray
    pred_conf: np.ndarray
    pred_cls: np.ndarray
    gt_xyxy: np.ndarray
    gt_cls: np.ndarray

    def __post_init__(self) -> None:
        for name, width in (("pred_xyxy", 4), ("gt_xyxy", 4)):
            arr = np.asarray(getattr(self, name), np.float64).reshape(-1, width)
            object.__setattr__(self, name, arr)
        for name, dtype in (("pred_conf", np.float64), ("pred_cls", np.int64), ("gt_cls", np.int64)):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype).reshape(-1))
        if not (len(self.pred_xyxy) == len(self.pred_conf) == len(self.pred_cls)):
            raise ValueError(
                f"ImageResult: pred_xyxy, pred_conf, pred_cls have {len(self.pred_xyxy)}, "
                f"{len(self.pred_conf)}, {len(self.pred_cls)} rows; they must match"
            )
        if len(self.gt_xyxy) != len(self.gt_cls):
            raise ValueError(f"ImageResult: gt_xyxy has {len(self.gt_xyxy)} rows, gt_cls {len(self.gt_cls)}")


def match(image: ImageResult, thresholds: Sequence[float] = tuple(IOU_THRESHOLDS)) -> np.ndarray:
    """(num_predictions, len(thresholds)) bool: is each prediction a true positive at each IoU threshold."""
    tp = np.zeros((len(image.pred_conf), len(thresholds)), bool)
    if len(image.pred_conf) == 0 or len(image.gt_cls) == 0:
        return tp
    iou = box_iou(image.pred_xyxy, image.gt_xyxy)
    iou[image.pred_cls[:, None] != image.gt_cls[None, :]] = 0.0
    order = np.argsort(-image.pred_conf, kind="stable")
    for t, thr in enumerate(thresholds):
        taken = np.zeros(len(image.gt_cls), bool)
        for p in order:
            candidates = np.where(~taken & (iou[p] >= thr))[0]
            if len(candidates):
                g = candidates[np.argmax(iou[p, candidates])]
                taken[g] = True
                tp[p, t] = True
    return tp


def average_precision(tp: np.ndarray, conf: np.ndarray, num_gt: int) -> np.ndarray:
    """AP at each IoU threshold (columns of ``tp``) for one class: 101-point interpolated."""
    if num_gt == 0:
        return np.full(tp.shape[1], np.nan)
    if len(conf) == 0:
        return np.zeros(tp.shape[1])
    order = np.argsort(-conf, kind="stable")
    tps = np.cumsum(tp[order], axis=0)
    fps = np.cumsum(~tp[order], axis=0)
    recall = tps / num_gt
    precision = tps / np.maximum(tps + fps, 1e-12)
    points = np.linspace(0, 1, 101)
    out = np.zeros(tp.shape[1])
    for t in range(tp.shape[1]):
        envelope = np.maximum.accumulate(precision[::-1, t])[::-1]  # best precision at recall ≥ r
        idx = np.searchsorted(recall[:, t], points, side="left")
        sampled = np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0.0)
        out[t] = sampled.mean()
    return out


@dataclass(frozen=True)
class DetectionMetrics:
    """Scores over a data set. Per-class dicts are keyed by class name; a class with no ground truth
    in the set has no AP (it is left out of the means rather than counted as 0 or 1)."""

    map50: float
    map50_95: float
    precision: float
    recall: float
    per_class: dict[str, dict[str, float]]
    images: int
    conf_threshold: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "map50": self.map50,
            "map50_95": self.map50_95,
            "precision": self.precision,
            "recall": self.recall,
            "per_class": self.per_class,
            "images": self.images,
            "conf_threshold": self.conf_threshold,
        }


def evaluate(results: Iterable[ImageResult], names: Sequence[str], conf_threshold: float) -> DetectionMetrics:
    """mAP@0.5 and mAP@0.5:0.95 overall and per class; precision and recall at ``conf_threshold``
    (the threshold the device runs with) at IoU 0.5."""
    tps, confs, classes, gts = [], [], [], []
    images = 0
    for image in results:
        images += 1
        tps.append(match(image))
        confs.append(image.pred_conf)
        classes.append(image.pred_cls)
        gts.append(image.gt_cls)
    tp = np.concatenate(tps) if tps else np.zeros((0, len(IOU_THRESHOLDS)), bool)
    conf = np.concatenate(confs) if confs else np.zeros(0)
    cls = np.concatenate(classes) if classes else np.zeros(0, np.int64)
    gt = np.concatenate(gts) if gts else np.zeros(0, np.int64)
    per_class: dict[str, dict[str, float]] = {}
    aps = []
    kept = conf >= conf_threshold
    for c, name in enumerate(names):
        mine = cls == c
        num_gt = int((gt == c).sum())
        ap = average_precision(tp[mine], conf[mine], num_gt)
        hits = int(tp[mine & kept, 0].sum())
        predicted = int((mine & kept).sum())
        per_class[name] = {
            "ap50": float(ap[0]),
            "ap50_95": float(np.mean(ap)),
            "precision": hits / predicted if predicted else 0.0,
            "recall": hits / num_gt if num_gt else float("nan"),
            "instances": num_gt,
            "predictions": predicted,
        }
        if num_gt:
            aps.append(ap)
    predicted = int(kept.sum())
    hits = int(tp[kept, 0].sum())
    all_ap = np.array(aps) if aps else np.zeros((0, len(IOU_THRESHOLDS)))
    return DetectionMetrics(
        map50=float(all_ap[:, 0].mean()) if aps else 0.0,
        map50_95=float(all_ap.mean()) if aps else 0.0,
        precision=hits / predicted if predicted else 0.0,
        recall=hits / len(gt) if len(gt) else 0.0,
        per_class=per_class,
        images=images,
        conf_threshold=conf_threshold,
    )
