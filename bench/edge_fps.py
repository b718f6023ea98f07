"""End-to-end frame rate of the edge pipeline on vtest.avi, against two baselines measured in the same run.

  (a) detector only: the same ONNX model at the same input size, nothing else;
  (b) the naive loop: the yolov5 package's ``yolov5.load`` + boxmot's StrongSORT (torch OSNet ReID,
      its default settings) called per frame — the reference of shared/data/README.md.

Usage: python bench/edge_fps.py [--frames 300] [--repeats 3] [--input-size 480] [--tracker strongsort] [--capture]
Detector-only and end-to-end runs alternate ``--repeats`` times and the median of each is compared, so
a burst of load from elsewhere on the machine does not land on one side only. Prints absolute
ms/frame for each and the ratios; writes JSON with --json FILE.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
VIDEO = DATA / "videos" / "vtest.avi"


def read_frames(n: int) -> list:
    cap = cv2.VideoCapture(str(VIDEO))
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    return frames


def detector_only(model: Path, size: int, conf: float, frames: list) -> float:
    from footfall.edge.detectors.onnx import OnnxDetector

    det = OnnxDetector(model, ["person"], input_size=size, conf_threshold=conf, threads=0)
    for f in frames[:5]:
        det.detect(f)
    t0 = time.perf_counter()
    for f in frames:
        det.detect(f)
    return (time.perf_counter() - t0) / len(frames)


def bench_config(model: Path, size: int, conf: float, tracker: str, reid: Path, spool: Path) -> Any:
    """The device configuration the bench runs: one camera on the clip, the device's defaults elsewhere."""
    from footfall.edge.config import EdgeConfig

    return EdgeConfig.model_validate(
        {
            "cameras": [
                {
                    "name": "bench",
                    "source": str(VIDEO),
                    "start_time": 0.0,
                    "lines": [
                        {"name": "x240", "points": [[240, 0], [240, 360]]},
                        {"name": "y200", "points": [[0, 200], [480, 200]]},
                    ],
                }
            ],
            "model": {
                "path": str(model),
                "classes": ["person"],
                "class_map": {"person": "person"},
                "input_size": size,
                "conf_threshold": conf,
            },
            "tracker": {"name": tracker, **({"reid_weights": str(reid)} if tracker == "strongsort" else {})},
            "storage": {
                "db": str(spool.parent / "c.db"),
                "reid_cache_dir": str(Path(tempfile.gettempdir()) / "footfall-reid"),
            },
            "capture": {"dir": str(spool)},
        }
    )


def end_to_end(
    model: Path, size: int, conf: float, tracker: str, reid: Path, frames: int, capture: bool = False
) -> tuple[float, dict]:
    from footfall.edge.build import build_camera
    from footfall.edge.capture import CaptureSink
    from footfall.edge.pipeline import run_camera
    from footfall.edge.store import CountStore

    extra: dict = {}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        cfg = bench_config(model, size, conf, tracker, reid, tmp / "spool")
        pipeline = build_camera(cfg, cfg.cameras[0])
        store = stack.enter_context(CountStore(cfg.storage.db))
        sink = None
        if capture:  # the default sampling policy of CaptureConfig, MOT tracks on
            sink = stack.enter_context(CaptureSink(cfg.capture, "bench", "s", ["person"], "b"))
        r = run_camera(
            pipeline,
            camera="bench",
            store=store,
            session="bench",
            max_frames=frames,
            on_tracks=sink.offer if sink else None,
        )
        if sink:
            extra["captured_frames"] = sink.saved
    extra["reid_crops_per_frame"] = round(getattr(pipeline.tracker, "crops_encoded", 0) / r.frames, 2)
    return r.seconds / r.frames, extra


def naive_loop(weights: Path, reid: Path, frames: list) -> float:
    import huggingface_hub.errors as hf_errors

    # yolov5 7.0.14 imports a module huggingface-hub removed in 0.25; boxmot needs a newer hub. The
    # alias below only lets the reference loop run beside boxmot in this benchmark.
    shim = types.ModuleType("huggingface_hub.utils._errors")
    shim.RepositoryNotFoundError = hf_errors.RepositoryNotFoundError  # type: ignore[attr-defined]
    sys.modules["huggingface_hub.utils._errors"] = shim
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"  # the reference checkpoint is a full pickle
    os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(tempfile.gettempdir(), "footfall-ultralytics"))
    import torch
    import yolov5
    from boxmot import StrongSort

    torch.set_num_threads(2)
    model = yolov5.load(str(weights), device="cpu")
    model.classes = [0]
    tracker = StrongSort(reid_weights=reid, device="cpu", half=False)
    for f in frames[:5]:
        model(f[..., ::-1])
    t0 = time.perf_counter()
    for f in frames:
        pred = model(f[..., ::-1]).pred[0].cpu().numpy()
        tracker.update(pred, f)
    return (time.perf_counter() - t0) / len(frames)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3, help="alternating detector-only / end-to-end runs")
    ap.add_argument("--input-size", type=int, default=480)
    ap.add_argument("--conf", type=float, default=0.4)
    ap.add_argument("--tracker", default="strongsort")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "yolov5n.onnx")
    ap.add_argument("--reid", type=Path, default=DATA / "reid" / "osnet_x0_25_msmt17.pt")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--capture", action="store_true", help="also run end to end with capture on (ratio to off)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    frames = read_frames(args.frames)
    det_runs, e2e_runs = [], []
    for _ in range(max(args.repeats, 1)):
        det_runs.append(detector_only(args.model, args.input_size, args.conf, frames))
        e2e, extra = end_to_end(args.model, args.input_size, args.conf, args.tracker, args.reid, len(frames))
        e2e_runs.append(e2e)
    det_s, e2e_s = statistics.median(det_runs), statistics.median(e2e_runs)
    cap_s, cap_extra = (
        end_to_end(args.model, args.input_size, args.conf, args.tracker, args.reid, len(frames), capture=True)
        if args.capture
        else (None, {})
    )
    naive_s = None if args.skip_naive else naive_loop(DATA / "weights" / "yolov5n.pt", args.reid, frames)
    out = {
        "frames": len(frames),
        "input_size": args.input_size,
        "tracker": args.tracker,
        "repeats": len(det_runs),
        "detector_only_ms": round(det_s * 1000, 1),
        "end_to_end_ms": round(e2e_s * 1000, 1),
        "detector_only_runs_ms": [round(x * 1000, 1) for x in det_runs],
        "end_to_end_runs_ms": [round(x * 1000, 1) for x in e2e_runs],
        "naive_ms": None if naive_s is None else round(naive_s * 1000, 1),
        "end_to_end_fps": round(1 / e2e_s, 2),
        "overhead_vs_detector_pct": round(100 * (e2e_s - det_s) / det_s, 1),
        "speedup_vs_naive": None if naive_s is None else round(naive_s / e2e_s, 2),
        **extra,
    }
    if cap_s is not None:
        out["capture_on_ms"] = round(cap_s * 1000, 1)
        out["capture_slowdown_pct"] = round(100 * (cap_s / e2e_s - 1), 1)
        out["captured_frames"] = cap_extra["captured_frames"]
    print(f"detector only : {out['detector_only_ms']:7.1f} ms/frame (median of {out['detector_only_runs_ms']})")
    print(
        f"end to end    : {out['end_to_end_ms']:7.1f} ms/frame ({out['end_to_end_fps']} fps), "
        f"+{out['overhead_vs_detector_pct']}% over the detector alone (median of {out['end_to_end_runs_ms']})"
    )
    if cap_s is not None:
        print(
            f"with capture  : {out['capture_on_ms']:7.1f} ms/frame ({out['capture_slowdown_pct']:+}% vs capture off,"
            f" {out['captured_frames']} frames saved)"
        )
    if naive_s is not None:
        print(f"naive loop    : {out['naive_ms']:7.1f} ms/frame → end to end is {out['speedup_vs_naive']}x faster")
    print(json.dumps(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
