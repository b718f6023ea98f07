"""Count and tracking accuracy of the edge pipeline on PETS09-S2L1 (vtest.avi) against ground truth.

Usage: python bench/pets_accuracy.py [--config configs/sample.yaml] [--tracker strongsort] [--input-size 640]
       [--conf 0.25] [--hysteresis 3] [--stitch 50] [--uturn-window 0] [--entry-backtrack 1.5] [--param k=v ...]

The pipeline is the one a device builds from the configuration (``footfall.edge.build``); options
override single keys of it. Prints per-line counts against counts derived from gt.txt (a U-turn the
device reports counts as its two crossings, as the truth does), MOTA / IDF1 / ID switches with
motmetrics next to the naive reference of shared/data/README.md, and ms per frame. Figures on this
sequence are in-sample: the sample settings were chosen on it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from footfall.edge.config import EdgeConfig, load_config  # noqa: E402
from footfall.edge.evaluation import evaluate_sequence, sequence_config  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
VIDEO = DATA / "videos" / "vtest.avi"
GT = DATA / "mot" / "PETS09-S2L1" / "gt" / "gt.txt"
NAIVE_REFERENCE = {"mota": 0.742, "idf1": 0.664, "id_switches": 61}


def configure(args: argparse.Namespace) -> EdgeConfig:
    """The sample configuration's camera lines on the clip, with the command line's overrides."""
    import yaml

    device = load_config(args.config)
    data: dict[str, Any] = device.model_dump(mode="json")
    data["model"]["path"] = str(args.model or device.model.path)
    over = {
        ("model", "input_size"): args.input_size,
        ("model", "conf_threshold"): args.conf,
        ("tracker", "stitch_max_gap_frames"): args.stitch,
        ("counting", "hysteresis_px"): args.hysteresis,
        ("counting", "uturn_window_s"): args.uturn_window,
        ("counting", "entry_backtrack_s"): args.entry_backtrack,
    }
    for (section, key), value in over.items():
        if value is not None:
            data[section][key] = value
    if args.tracker:
        data["tracker"] = {
            "name": args.tracker,
            "stitch_max_gap_frames": data["tracker"]["stitch_max_gap_frames"],
            **({"reid_weights": str(args.reid)} if args.tracker == "strongsort" else {}),
        }
    if args.param:
        data["tracker"]["params"] = {k: yaml.safe_load(v) for k, v in (p.split("=", 1) for p in args.param)}
    data["dashboard"] = {}
    cfg = EdgeConfig.model_validate(data)
    return sequence_config(cfg, "pets", VIDEO, cfg.cameras[0].lines)


def add_pipeline_options(ap: argparse.ArgumentParser) -> None:
    """The options :func:`configure` reads: the device configuration and single keys overriding it."""
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "sample.yaml", help="device configuration")
    ap.add_argument("--model", type=Path, help="detector weights (default: the config's)")
    ap.add_argument("--tracker", help="tracker name (default: the config's)")
    ap.add_argument("--input-size", type=int)
    ap.add_argument("--reid", type=Path, default=ROOT / "models" / "osnet_x0_25_msmt17.onnx")
    ap.add_argument("--param", action="append", default=[], help="tracker param override k=v (YAML value)")
    ap.add_argument("--max-frames", type=int)
    ap.add_argument("--conf", type=float, help="detector confidence threshold")
    ap.add_argument("--hysteresis", type=float)
    ap.add_argument("--stitch", type=int, help="tracklet stitching max gap, frames (0 = off)")
    ap.add_argument("--uturn-window", type=float)
    ap.add_argument("--entry-backtrack", type=float, help="counting.entry_backtrack_s (0 = off)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_pipeline_options(ap)
    args = ap.parse_args()
    cfg = configure(args)
    scores = evaluate_sequence(cfg, GT, max_frames=args.max_frames)
    out = {
        "model": cfg.model.model_dump(mode="json", include={"path", "input_size", "conf_threshold"}),
        "tracker": cfg.tracker.model_dump(mode="json"),
        "counting": cfg.counting.model_dump(mode="json"),
        **{k: scores[k] for k in ("frames", "ms_per_frame", "mota", "idf1", "id_switches", "track_ids")},
        "naive_reference": NAIVE_REFERENCE,
        "lines": scores["lines"],
        "count_error_pct": scores["count_error_pct"],
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
