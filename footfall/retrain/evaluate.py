"""Score a model the way it will run on a device: the edge's ONNX detector on a fixed held-out set.

Every number comes from the exported ``.onnx`` through ``edge.detectors`` (the code the stores run),
not from the training framework: mAP@0.5 and mAP@0.5:0.95 overall and per class, precision and
recall at the deployed threshold, model size, CPU latency, and on labelled videos the store's own
numbers (MOTA, IDF1, count error per line) through the full edge pipeline.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from footfall.common.config import ConfigError
from footfall.common.lines import LineConfig
from footfall.common.yolo import read_labels
from footfall.common.yolo_dataset import SPLITS, scan
from footfall.edge.config import EdgeConfig, ModelConfig, load_config
from footfall.edge.detectors import create_detector
from footfall.registry.datasets import DatasetManifest
from footfall.retrain.config import EvalSettings
from footfall.retrain.metrics import ImageResult, evaluate

EVAL_SPLITS = ("val", "test")


def heldout_items(folder: Path) -> list[Any]:
    """Items of the held-out version that are scored: its val and test splits."""
    _, items = scan(folder)
    chosen = [i for i in items if i.split in EVAL_SPLITS]
    if not chosen:
        raise ValueError(f"{folder}: the held-out dataset has no val/test images (splits: {SPLITS})")
    return chosen


def _detector(onnx: Path, names: list[str], settings: EvalSettings, class_map: dict[str, str] | None, conf: float):
    return create_detector(
        ModelConfig(
            path=onnx,
            classes=names,
            class_map=class_map,
            input_size=settings.input_size,
            conf_threshold=conf,
            iou_threshold=0.45,
            max_det=300,
        )
    )


def detection_scores(
    onnx: Path, folder: Path, names: list[str], settings: EvalSettings, class_map: dict[str, str] | None = None
) -> tuple[dict[str, Any], float]:
    """mAP and P/R of ``onnx`` on the held-out folder, and the median detector latency in ms."""
    # mAP needs the whole precision-recall curve: score with a very low threshold, report P/R at the
    # deployed one (evaluate() filters).
    detector = _detector(onnx, names, settings, class_map, conf=0.001)
    ranked, deployed = [], []
    times = []
    for n, item in enumerate(heldout_items(folder)):
        image = cv2.imread(str(item.image))
        if image is None:
            raise ValueError(f"{item.image}: not a readable image")
        h, w = image.shape[:2]
        started = time.perf_counter()
        dets = detector.detect(image)
        if 0 < n <= settings.latency_images:  # the first call warms up the runtime
            times.append(1000 * (time.perf_counter() - started))
        boxes = read_labels(item.label, len(names)) if item.label else []
        gt = np.array([b.xyxy(w, h) for b in boxes]).reshape(-1, 4)
        gt_cls = np.array([b.cls for b in boxes], np.int64)
        ranked.append(ImageResult(*multi_label(dets, len(names)), gt, gt_cls))
        keep = dets.confidence >= settings.conf_threshold
        deployed.append(ImageResult(dets.xyxy[keep], dets.confidence[keep], dets.class_id[keep], gt, gt_cls))
    # AP from every class score of every box (as COCO and yolov5's val rank them); precision and
    # recall from what the device reports: one class per box, at the deployed threshold
    metrics = evaluate(ranked, names, settings.conf_threshold).as_dict()
    at_threshold = evaluate(deployed, names, settings.conf_threshold).as_dict()
    for key in ("precision", "recall"):
        metrics[key] = at_threshold[key]
    for name in names:
        for key in ("precision", "recall", "predictions"):
            metrics["per_class"][name][key] = at_threshold["per_class"][name][key]
    return metrics, round(statistics.median(times), 2) if times else 0.0


def multi_label(dets: Any, num_classes: int, floor: float = 0.001) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One prediction per (box, class) with score objectness × class probability ≥ ``floor``.

    The edge keeps one class per box (class-agnostic NMS: one person is never counted twice); for
    average precision each box is also ranked under the other classes, so a class the model scores
    second-best still has a precision-recall curve — the multi-label ranking yolov5's val uses.
    """
    if dets.class_probs is None or num_classes == 1 or not len(dets):
        return dets.xyxy, dets.confidence, dets.class_id
    probs = dets.class_probs
    chosen = probs[np.arange(len(dets)), dets.class_id]
    objectness = dets.confidence / np.maximum(chosen, 1e-9)
    scores = objectness[:, None] * probs
    box_idx, cls_idx = np.nonzero(scores >= floor)
    return dets.xyxy[box_idx], scores[box_idx, cls_idx], cls_idx


def device_config(settings: EvalSettings) -> EdgeConfig:
    """The edge configuration the stores run (``evaluation.device_config``), checked against ``settings``."""
    assert settings.device_config is not None  # EvalSettings requires it with sequences
    device = load_config(settings.device_config)
    for key in ("input_size", "conf_threshold"):
        if getattr(device.model, key) != getattr(settings, key):
            raise ConfigError(
                str(settings.device_config),
                [
                    f"model.{key} = {getattr(device.model, key)} but retrain.evaluation.{key} = "
                    f"{getattr(settings, key)}: the gate must judge what the devices run. Fix: make them equal"
                ],
            )
    return device


def sequence_scores(
    onnx: Path, names: list[str], settings: EvalSettings, class_map: dict[str, str] | None = None
) -> dict[str, Any]:
    """Tracking and counting on each labelled video of ``settings.sequences``, counted by the chain a
    device builds from ``settings.device_config`` with this model."""
    from footfall.edge.evaluation import evaluate_sequence, sequence_config
    from footfall.labeling.mot_import import identity_classes

    device = device_config(settings) if settings.sequences else None
    out = {}
    for seq in settings.sequences:
        assert device is not None
        lines = [LineConfig(name=name, points=((c[0], c[1]), (c[2], c[3]))) for name, c in seq.lines.items()]
        cfg = sequence_config(
            device, seq.name, seq.video, lines, path=onnx, classes=names, class_map=class_map, sha256=None
        )
        class_of = identity_classes(seq.identity_classes) if seq.identity_classes else None
        out[seq.name] = evaluate_sequence(cfg, seq.gt, max_frames=seq.max_frames, class_of=class_of)
    return out


def evaluate_model(
    onnx: Path,
    heldout: tuple[Path, DatasetManifest],
    names: list[str],
    settings: EvalSettings,
    *,
    class_map: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything the gate and the registry metadata need about one model, on one held-out version."""
    folder, manifest = heldout
    detection, latency = detection_scores(onnx, folder, names, settings, class_map)
    return {
        "heldout": {
            "dataset": manifest.ref,
            "fingerprint": manifest.fingerprint,
            "images": detection["images"],
        },
        "input_size": settings.input_size,
        **detection,
        "latency_ms_cpu": latency,
        "size_bytes": onnx.stat().st_size,
        "sequences": sequence_scores(onnx, names, settings, class_map),
    }
