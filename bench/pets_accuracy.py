"""Count and tracking accuracy of the edge pipeline on PETS09-S2L1 (vtest.avi) against ground truth.

Usage: python bench/pets_accuracy.py [--tracker strongsort] [--input-size 640] [--param k=v ...]
Prints per-line counts against counts derived from gt.txt, MOTA / IDF1 / ID switches with motmetrics
next to the naive reference of shared/data/README.md, and ms per frame.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.counting import CrossingCounter  # noqa: E402
from edge.detectors.onnx import OnnxDetector  # noqa: E402
from edge.evaluation import crossings, load_mot, mot_scores  # noqa: E402
from edge.geometry import Line, Point  # noqa: E402
from edge.pipeline import run_camera  # noqa: E402
from edge.sources import VideoSource  # noqa: E402
from edge.store import CountStore  # noqa: E402
from edge.tracking import create_tracker  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
VIDEO = DATA / "videos" / "vtest.avi"
GT = DATA / "mot" / "PETS09-S2L1" / "gt" / "gt.txt"
# The line of the reference JSON plus three more: behind the lamp post, horizontal, diagonal.
PETS_LINES = {
    "x240": Line(Point(240, 0), Point(240, 360)),
    "x269": Line(Point(268.75, 0), Point(268.75, 360)),
    "y200": Line(Point(0, 200), Point(480, 200)),
    "diag": Line(Point(100, 360), Point(400, 0)),
}
NAIVE_REFERENCE = {"mota": 0.742, "idf1": 0.664, "id_switches": 61}


def run(
    model: Path,
    tracker: str,
    input_size: int,
    params: dict,
    reid: Path | None,
    max_frames: int | None = None,
    uturn_window_s: float = 0.0,
    hysteresis_px: float = 0.0,
    conf: float = 0.25,
    stitch: int = 0,
) -> dict:
    detector = OnnxDetector(model, ["person"], input_size=input_size, threads=1, conf_threshold=conf)
    trk = create_tracker(
        tracker,
        params,
        reid_weights=reid,
        reid_cache_dir=Path(tempfile.gettempdir()) / "footfall-reid",
        stitch_max_gap_frames=stitch,
    )
    counter = CrossingCounter(
        "pets", PETS_LINES, list(detector.class_names), uturn_window_s=uturn_window_s, hysteresis_px=hysteresis_px
    )
    rows: list[list[float]] = []

    def sink(frame, _dets, tracks) -> None:
        for (x1, y1, x2, y2), tid in zip(tracks.xyxy.tolist(), tracks.track_id.tolist(), strict=False):
            rows.append([frame.index + 1, tid, x1, y1, x2 - x1, y2 - y1])

    with tempfile.TemporaryDirectory() as tmp, CountStore(Path(tmp) / "c.db") as store:
        result = run_camera(
            camera="pets",
            source=VideoSource(str(VIDEO), start_ts=0.0),
            detector=detector,
            tracker=trk,
            counter=counter,
            store=store,
            session="bench",
            max_frames=max_frames,
            on_tracks=sink,
        )
        counts = store.session_counts("bench")
    gt = load_mot(GT)
    if max_frames:
        gt = gt[gt[:, 0] <= max_frames]
    hyp = np.array(rows) if rows else np.zeros((0, 6))
    scores = mot_scores(gt, hyp)
    lines = {}
    for name, line in PETS_LINES.items():
        truth = crossings(gt, line)
        got = {d: sum(counts.get(name, {}).get(d, {}).values()) for d in ("in", "out")}
        lines[name] = {
            "truth": truth,
            "counted": got,
            "error_pct": {d: round(100 * abs(got[d] - truth[d]) / max(truth[d], 1), 1) for d in got},
        }
    return {
        "tracker": tracker,
        "input_size": input_size,
        "params": params,
        "frames": result.frames,
        "ms_per_frame": round(1000 * result.seconds / max(result.frames, 1), 1),
        "conf": conf,
        "stitch": stitch,
        "hysteresis_px": hysteresis_px,
        "uturn_window_s": uturn_window_s,
        "mota": round(scores.mota, 3),
        "idf1": round(scores.idf1, 3),
        "id_switches": scores.id_switches,
        "track_ids": scores.num_ids,
        "naive_reference": NAIVE_REFERENCE,
        "lines": lines,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "yolov5n.onnx")
    ap.add_argument("--tracker", default="strongsort")
    ap.add_argument("--input-size", type=int, default=640)
    ap.add_argument("--reid", type=Path, default=DATA / "reid" / "osnet_x0_25_msmt17.pt")
    ap.add_argument("--param", action="append", default=[], help="tracker param override k=v (YAML value)")
    ap.add_argument("--max-frames", type=int)
    ap.add_argument("--conf", type=float, default=0.25, help="detector confidence threshold")
    ap.add_argument("--hysteresis", type=float, default=0.0)
    ap.add_argument("--stitch", type=int, default=0, help="tracklet stitching max gap, frames (0 = off)")
    ap.add_argument("--uturn-window", type=float, default=0.0)
    args = ap.parse_args()
    import yaml

    params = {k: yaml.safe_load(v) for k, v in (p.split("=", 1) for p in args.param)}
    reid = args.reid if args.tracker == "strongsort" else None
    print(
        json.dumps(
            run(
                args.model,
                args.tracker,
                args.input_size,
                params,
                reid,
                args.max_frames,
                args.uturn_window,
                args.hysteresis,
                args.conf,
                args.stitch,
            ),
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
