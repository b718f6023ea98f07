"""Counting on lines nobody tuned it on: a family of seeded random segments over the walkable part of
PETS09-S2L1, counted in one run with the device's pipeline, scored against the ground truth's segment
crossings (issue #18).

Usage: python bench/line_family.py [--count 24] [--seed 0] [--region 40,110,460,350] [--min-length 80]
       [--angles 0,180] [--config configs/sample.yaml] [--uturn-window S ...] [--max-frames N] [--json OUT]

Accuracy = 1 − Σ|counted − truth| / Σ truth over both directions of every line. Ground truth for a
segment: a person's foot point goes from one side to the other (a side being more than 3 px from the
line) through the segment itself. The family is printed twice: with the configuration's U-turn window
and with none (the quick-run command's default). PETS is the only labelled sequence here: the sample
settings were chosen on it, the random lines were not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from pets_accuracy import GT, add_pipeline_options, configure  # noqa: E402

from footfall.edge.evaluation import LineFamily, evaluate_line_family  # noqa: E402

# the walkable part of the picture: where the ground truth's foot points are (1st–99th percentile)
REGION = (40.0, 110.0, 460.0, 350.0)


def floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--region", type=floats, default=REGION, help="x0,y0,x1,y1 in source pixels")
    ap.add_argument("--min-length", type=float, default=80.0)
    ap.add_argument("--angles", type=floats, default=(0.0, 180.0), help="min,max degrees to the horizontal")
    ap.add_argument("--json", type=Path, help="write both results here")
    add_pipeline_options(ap)  # --uturn-window sets the configured run's window
    args = ap.parse_args()
    family = LineFamily(args.count, args.seed, args.region, args.min_length, args.angles)  # type: ignore[arg-type]
    results = {}
    for label, uturn in (("configured U-turn window", args.uturn_window), ("no U-turn window", 0.0)):
        run = argparse.Namespace(**{**vars(args), "uturn_window": uturn})
        cfg = configure(run)
        res = evaluate_line_family(cfg, GT, family, max_frames=args.max_frames)
        res["uturn_window_s"] = cfg.counting.uturn_window_s
        results[label] = res
        print(f"\n== {label} ({cfg.counting.uturn_window_s} s): family seed {family.seed}, {family.count} lines, "
              f"region {family.region}")  # fmt: skip
        print(f"{'line':<5} {'points':<34} {'angle':>5} {'height':>6}  {'in t/c':>7} {'out t/c':>7}")
        for name, v in res["lines"].items():
            pts = f"({v['points'][0][0]:.0f},{v['points'][0][1]:.0f})-({v['points'][1][0]:.0f},{v['points'][1][1]:.0f})"
            angle = "-" if v["walk_angle_deg"] is None else f"{v['walk_angle_deg']:.0f}"
            height = "-" if v["person_height_px"] is None else f"{v['person_height_px']:.0f}"
            t, c = v["truth"], v["counted"]
            print(f"{name:<5} {pts:<34} {angle:>5} {height:>6}  {t['in']:>3}/{c['in']:<3} {t['out']:>3}/{c['out']:<3}")
        print(f"aggregate accuracy {res['accuracy']} ({res['wrong']} wrong of {res['crossings']} crossings), "
              f"worst line error {res['worst_line_error']}")  # fmt: skip
        for group in ("by_walk_angle", "by_person_height"):
            for bucket, v in res[group].items():
                print(
                    f"  {bucket:<18} {v['lines']:>2} lines  accuracy {v['accuracy']}  ({v['wrong']}/{v['crossings']})"
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
