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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from footfall.common.geometry import Line, Point  # noqa: E402
from footfall.edge.detectors.onnx import OnnxDetector  # noqa: E402
from footfall.edge.evaluation import evaluate_sequence  # noqa: E402
from footfall.edge.tracking import create_tracker  # noqa: E402

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
    entry_backtrack_s: float = 0.0,
) -> dict:
    detector = OnnxDetector(model, ["person"], input_size=input_size, threads=1, conf_threshold=conf)
    trk = create_tracker(
        tracker,
        params,
        reid_weights=reid,
        reid_cache_dir=Path(tempfile.gettempdir()) / "footfall-reid",
        stitch_max_gap_frames=stitch,
    )
    scores = evaluate_sequence(
        detector,
        trk,
        VIDEO,
        GT,
        PETS_LINES,
        max_frames=max_frames,
        uturn_window_s=uturn_window_s,
        hysteresis_px=hysteresis_px,
        entry_backtrack_s=entry_backtrack_s,
    )
    return {
        "tracker": tracker,
        "input_size": input_size,
        "params": params,
        **{k: scores[k] for k in ("frames", "ms_per_frame")},
        "conf": conf,
        "stitch": stitch,
        "hysteresis_px": hysteresis_px,
        "uturn_window_s": uturn_window_s,
        "entry_backtrack_s": entry_backtrack_s,
        **{k: scores[k] for k in ("mota", "idf1", "id_switches", "track_ids")},
        "naive_reference": NAIVE_REFERENCE,
        "lines": scores["lines"],
        "count_error_pct": scores["count_error_pct"],
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
    ap.add_argument("--entry-backtrack", type=float, default=0.0, help="counting.entry_backtrack_s (0 = off)")
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
                args.entry_backtrack,
            ),
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
