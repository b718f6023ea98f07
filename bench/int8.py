"""INT8 yolov5n on this CPU: static quantization calibrated on a store's own frames, against FP32.

Usage: python bench/int8.py [--calibration 40] [--whole-graph] [--qdq] [--frames 100] [--repeats 3] [--json OUT]

Calibration frames are PETS frames ≤ 600 (what the device captures; the flywheel's spool holds such
frames), the test is frames > 600 against gt.txt (the held-out part, never used for calibration).
The model is the one `footfall edge quantize` writes (footfall.edge.detectors.quantize: per channel,
QLinear operators, the detection head FP32); --whole-graph and --qdq are the variants it was chosen
over. Prints forward time per frame of each model (median of alternating repeats, same inputs, same
session options), AP@0.5 of both on the held-out frames, and how many FP32 detections the INT8 model
reproduces (IoU ≥ 0.5).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from footfall.common.geometry import box_iou  # noqa: E402
from footfall.common.mot import load_mot  # noqa: E402
from footfall.edge.detectors.common import preprocess  # noqa: E402
from footfall.edge.detectors.onnx import OnnxDetector  # noqa: E402
from footfall.edge.detectors.quantize import quantize_int8  # noqa: E402
from footfall.retrain.metrics import ImageResult, evaluate  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
VIDEO = DATA / "videos" / "vtest.avi"
GT = DATA / "mot" / "PETS09-S2L1" / "gt" / "gt.txt"
FP32 = ROOT / "models" / "yolov5n.onnx"
SIZE = 480


def frames(first: int, last: int, step: int = 1) -> list[tuple[int, np.ndarray]]:
    cap = cv2.VideoCapture(str(VIDEO))
    out = []
    for i in range(1, last + 1):
        ok, f = cap.read()
        if not ok:
            break
        if i >= first and (i - first) % step == 0:
            out.append((i, f))
    return out


def forward_ms(detector: OnnxDetector, blobs: list[np.ndarray]) -> float:
    t0 = time.perf_counter()
    for b in blobs:
        detector._forward(b)
    return 1000 * (time.perf_counter() - t0) / len(blobs)


def ap50(detector: OnnxDetector, test: list[tuple[int, np.ndarray]], gt: np.ndarray) -> float:
    results = []
    for i, f in test:
        d = detector.detect(f)
        rows = gt[gt[:, 0] == i]
        boxes = np.column_stack([rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]])
        results.append(ImageResult(d.xyxy, d.confidence, d.class_id, boxes, np.zeros(len(rows), np.int64)))
    return float(evaluate(results, ["person"], 0.4).as_dict()["map50"])


def agreement(a: OnnxDetector, b: OnnxDetector, test: list[tuple[int, np.ndarray]]) -> tuple[int, int]:
    """FP32 detections at the deployed threshold (0.4) that INT8 also finds (IoU ≥ 0.5)."""
    found = total = 0
    for _, f in test:
        da, db = a.detect(f), b.detect(f)
        total += len(da)
        found += int((box_iou(da.xyxy, db.xyxy) >= 0.5).any(axis=1).sum())
    return found, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calibration", type=int, default=40)
    ap.add_argument("--whole-graph", action="store_true", help="quantize the detection head too")
    ap.add_argument("--qdq", action="store_true", help="QDQ form instead of QLinear operators")
    ap.add_argument("--frames", type=int, default=100, help="held-out frames scored (every other one after 600)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    calib = [f for _, f in frames(1, 600, max(1, 600 // args.calibration))][: args.calibration]
    test = frames(601, 795)[:: max(1, 195 // args.frames)][: args.frames]
    gt = load_mot(GT)
    with tempfile.TemporaryDirectory() as tmp:
        int8_path = quantize_int8(
            FP32,
            Path(tmp) / "int8.onnx",
            calib,
            input_size=SIZE,
            head_fp32=not args.whole_graph,
            operators=not args.qdq,
        )
        fp32 = OnnxDetector(FP32, ["person"], input_size=SIZE, conf_threshold=0.001)
        int8 = OnnxDetector(int8_path, ["person"], input_size=SIZE, conf_threshold=0.001)
        blobs = [preprocess(f, SIZE, 32)[0] for _, f in test]
        forward_ms(fp32, blobs[:5]), forward_ms(int8, blobs[:5])
        t32, t8 = [], []
        for _ in range(args.repeats):
            t32.append(forward_ms(fp32, blobs))
            t8.append(forward_ms(int8, blobs))
        m32, m8 = ap50(fp32, test, gt), ap50(int8, test, gt)
        fp32.conf_threshold = int8.conf_threshold = 0.4
        found, total = agreement(fp32, int8, test)
        size8 = int8_path.stat().st_size
    r = {
        "head": "int8" if args.whole_graph else "fp32",
        "form": "qdq" if args.qdq else "qlinear operators",
        "calibration_frames": len(calib),
        "test_frames": len(test),
        "fp32_forward_ms": round(statistics.median(t32), 2),
        "int8_forward_ms": round(statistics.median(t8), 2),
        "speedup": round(statistics.median(t32) / statistics.median(t8), 2),
        "fp32_ap50": round(m32, 4),
        "int8_ap50": round(m8, 4),
        "fp32_detections_kept": f"{found}/{total}",
        "int8_mb": round(size8 / 1e6, 1),
        "fp32_mb": round(FP32.stat().st_size / 1e6, 1),
    }
    print(json.dumps(r))
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
