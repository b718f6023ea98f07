"""The counting rule alone, on tracks nobody here made: the device's counter (the ``counting:`` section of
``configs/sample.yaml``) run over tracks given as MOT files — a scene's annotated tracks, or another
tracker's output — and scored on families of seeded random lines against the annotation (issue #18).

Usage: python bench/line_family_tracks.py [--seeds 20-39] [--count 24]

Scenes: PETS09-S2L1 (480×360, 10 fps) and TUD-Campus / TUD-Stadtmitte (640×480, 25 fps; ground truth
and one tracker's output, no video). Each is counted twice: with the sample settings, and with the two
rules made for imperfect tracks off (``confirm_share``, ``entry_backtrack_s``) — on annotated tracks
that second run must equal the truth exactly; what the first loses is those rules' price.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from line_family import REGION  # noqa: E402

from footfall.common.mot import load_mot  # noqa: E402
from footfall.edge.config import load_config  # noqa: E402
from footfall.edge.evaluation import LineFamily, evaluate_tracks_on_family  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "mot"
TUD = DATA / "motmetrics_TUD"
TUD_REGION = (20.0, 20.0, 620.0, 460.0)
# name: (ground truth, tracks counted, fps, (height, width), region of the random lines)
SCENES = {
    "PETS09-S2L1 annotated": (DATA / "PETS09-S2L1/gt/gt.txt", None, 10.0, (360, 480), REGION),
    "TUD-Campus annotated": (TUD / "TUD-Campus/gt.txt", None, 25.0, (480, 640), TUD_REGION),
    "TUD-Campus tracker": (TUD / "TUD-Campus/gt.txt", TUD / "TUD-Campus/test.txt", 25.0, (480, 640), TUD_REGION),
    "TUD-Stadtmitte annotated": (TUD / "TUD-Stadtmitte/gt.txt", None, 25.0, (480, 640), TUD_REGION),
    "TUD-Stadtmitte tracker": (
        TUD / "TUD-Stadtmitte/gt.txt",
        TUD / "TUD-Stadtmitte/test.txt",
        25.0,
        (480, 640),
        TUD_REGION,
    ),
}


def seed_range(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=seed_range, default=seed_range("20-39"), help="a seed or a range, e.g. 20-39")
    ap.add_argument("--count", type=int, default=24, help="lines per family")
    args = ap.parse_args()
    sample = load_config(ROOT / "configs" / "sample.yaml").counting
    bare = sample.model_copy(update={"confirm_share": 0.0, "entry_backtrack_s": 0.0})
    print(f"families: seeds {args.seeds[0]}–{args.seeds[-1]}, {args.count} lines each, at least 80 px long")
    print(f"{'scene':<26} {'counting':<34} {'accuracy':>8}  wrong / crossings  worst line")
    for scene, (gt_path, tracks_path, fps, hw, region) in SCENES.items():
        gt = load_mot(gt_path)
        tracks = gt if tracks_path is None else load_mot(tracks_path, only_flagged=False)
        for label, counting in (("sample settings", sample), ("confirm_share 0, no run-back", bare)):
            wrong = total = worst = 0
            for seed in args.seeds:
                family = LineFamily(args.count, seed, region, 80.0)
                res = evaluate_tracks_on_family(tracks, gt, family, counting, fps=fps, frame_hw=hw)
                wrong, total = wrong + res["wrong"], total + res["crossings"]
                worst = max(worst, res["worst_line_error"])
            print(f"{scene:<26} {label:<34} {1 - wrong / total:>8.4f}  {wrong:>5} / {total:<9}  ±{worst}")


if __name__ == "__main__":
    main()
