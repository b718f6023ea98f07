"""Label savings: what N more labelled frames buy, per selection strategy, on a two-class pool.

The experiment is the flywheel's second turn, simulated on PETS09-S2L1 (the only labelled sequence):

1. **Turn 1 (the production model).** yolov5n (COCO) fine-tuned to the product classes on a seed set of
   ``--seed-frames`` frames spread evenly over frames 1–600, labelled by the simulated annotator.
2. **The pool** is what a device running that model captures from frames 1–600: the device's own
   pipeline (``configs/sample.yaml``: input 480, ByteTrack, the four sample lines, counting as
   configured) with capture on, so every frame carries the model's boxes, class scores, tracks and the
   counter's count-risk moments. Pool frames that are seed frames are left out.
3. **Each run**: a strategy picks N frames of the pool (``harvest.select``, the harvester's code); the
   simulated annotator labels them; yolov5n (COCO) is fine-tuned on the seed set plus those N frames;
   the exported ONNX model is scored on **frames 601–795**, never seen by selection, training or
   checkpoint choice (yolov5 chooses its best epoch on the training images):
   mAP@0.5 overall and per class through the device's detector (``retrain.evaluate``), and count
   accuracy through the device's whole pipeline on a clip of those frames — a family of 24 random lines
   (seed 0, the walkable region of ``bench/line_family.py``) plus the four sample lines.

The simulated annotator answers every ground-truth person of a frame (``gt.txt``) with the class of its
identity (``identity_classes.csv``); an ``unsure`` identity gets the class its cue leans to, as an
annotator told to pick the most likely class would (3 of 19 identities: 1 and 19 lean male, 16 female).

Training length: every run sees the same number of training images (``--images-seen``, at least
``--min-epochs`` epochs), so a small set is trained for more epochs; the per-epoch mAP yolov5 reports
on its training images is kept with each run (``converged``: its last quarter varies by less than 0.02).

**Ceiling** (``--ceiling N``): yolov5n (COCO) trained on N frames spread evenly over 1–600 (with the seed
frames), every one labelled, no selection — what labels can buy at all in this scene, at the training
length ``--ceiling-images-seen``.

    .venv/bin/python bench/label_efficiency.py --out runs/label-efficiency          # the full grid
    .venv/bin/python bench/label_efficiency.py --out runs/label-efficiency --report  # table + PNG only

Runs already in ``OUT/runs.jsonl`` are not run again, so a stopped experiment continues where it was.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from line_family import REGION  # noqa: E402

from footfall.common.classes import PRODUCT_CLASSES  # noqa: E402
from footfall.edge.build import build_camera  # noqa: E402
from footfall.edge.capture import CaptureSink, Spool  # noqa: E402
from footfall.edge.config import CaptureConfig, EdgeConfig, load_config  # noqa: E402
from footfall.edge.detectors.export import export_onnx  # noqa: E402
from footfall.edge.evaluation import LineFamily, evaluate_line_family, evaluate_sequence, sequence_config  # noqa: E402
from footfall.edge.pipeline import run_camera  # noqa: E402
from footfall.edge.store import CountStore  # noqa: E402
from footfall.edge.sync import sync_spool  # noqa: E402
from footfall.harvest.collect import Item, list_items, to_records  # noqa: E402
from footfall.harvest.simulate import choose, pool_examples, seed_frames, video_examples, write_training_set  # noqa: E402
from footfall.labeling.mot_import import MotAnnotator  # noqa: E402
from footfall.registry.storage import open_storage  # noqa: E402
from footfall.retrain.config import EvalSettings, TrainSettings  # noqa: E402
from footfall.retrain.evaluate import detection_scores  # noqa: E402
from footfall.retrain.trainer import run_training  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
VIDEO = DATA / "videos" / "vtest.avi"
PETS = DATA / "mot" / "PETS09-S2L1"
GT, IDENTITIES = PETS / "gt" / "gt.txt", PETS / "identity_classes.csv"
YOLOV5N = DATA / "weights" / "yolov5n.pt"
DEVICE = ROOT / "configs" / "sample.yaml"
CLASSES = list(PRODUCT_CLASSES)
POOL_LAST_FRAME = 600  # frames 1–600 (MOT numbering) are the store's past; 601–795 the held-out future
START = 1.7e9
STRATEGIES = ("random", "uncertainty", "balanced", "count-aware")
FAMILY = LineFamily(count=24, seed=0, region=REGION)


# -- pool, held-out set, training, scoring ---------------------------------------------------------


def device_config(model: Path) -> EdgeConfig:
    """The sample device's settings running ``model`` (the product classes, no class map)."""
    device = load_config(DEVICE)
    cam = device.cameras[0]
    return sequence_config(device, cam.name, VIDEO, cam.lines, path=model, classes=CLASSES, class_map=None, sha256=None)


def capture_pool(work: Path, model: Path, max_per_minute: int) -> tuple[list[Item], str]:
    """Run the device on frames 1–600 with capture on, sync, and list what was uploaded."""
    cfg = device_config(model)
    cam = cfg.cameras[0].model_copy(update={"start_time": START})
    capture = CaptureConfig(enabled=True, dir=work / "spool", max_per_minute=max_per_minute, tracks=False)
    pipeline = build_camera(cfg, cam)
    with CountStore(work / "pool.db") as store, CaptureSink(capture, cam.name, "s1", CLASSES, "turn1") as sink:
        run_camera(
            pipeline,
            camera=cam.name,
            store=store,
            session="s1",
            max_frames=POOL_LAST_FRAME,
            on_tracks=lambda f, d, t: sink.offer(f, d, t, None, pipeline.counter.moments),
        )
    captures = f"file://{work / 'uploaded'}"
    sync_spool(Spool(work / "spool", 1e12, 1e12), open_storage(captures), "pets")
    return list_items(open_storage(captures), START - 1, START + 3600), captures


def heldout(work: Path, annotator: MotAnnotator) -> tuple[Path, Path, Path]:
    """Frames 601–795: a YOLO val folder (product classes), and the same frames as a clip + its MOT truth."""
    folder, clip, truth = work / "heldout", work / "heldout.avi", work / "heldout_gt.txt"
    (folder / "images" / "val").mkdir(parents=True)
    (folder / "labels" / "val").mkdir(parents=True)
    (folder / "data.yaml").write_text(json.dumps({"names": CLASSES}))
    cap = cv2.VideoCapture(str(VIDEO))
    fps = cap.get(cv2.CAP_PROP_FPS) or 7.0
    writer = None
    frame = 0
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                break
            frame += 1
            if frame <= POOL_LAST_FRAME:
                continue
            h, w = image.shape[:2]
            if writer is None:
                writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
            writer.write(image)
            cv2.imwrite(str(folder / "images" / "val" / f"f{frame:06d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
            annotator.label(frame, folder / "labels" / "val" / f"f{frame:06d}.txt", w, h)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    rows = annotator.rows[annotator.rows[:, 0] > POOL_LAST_FRAME].copy()
    rows[:, 0] -= POOL_LAST_FRAME
    with open(truth, "w", newline="") as fh:
        csv.writer(fh).writerows([[int(r[0]), int(r[1]), *r[2:6].tolist(), 1, -1, -1, -1] for r in rows])
    return folder, clip, truth


def train(data: Path, out: Path, *, images: int, seed: int, args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """Fine-tune yolov5n (COCO) on ``images`` training images; the ONNX model and how training went."""
    epochs = max(args.min_epochs, math.ceil(args.images_seen / max(images, 1)))
    settings = TrainSettings(
        epochs=epochs,
        imgsz=args.imgsz,
        batch=16,
        workers=0,
        seed=seed,
        image_weights=False,
        timeout_s=3600,
        checkpoint=args.checkpoint,
    )
    started = time.monotonic()
    summary = run_training(settings, parent=YOLOV5N, names=CLASSES, data_yaml=data, out=out / "train")
    onnx = export_onnx(Path(summary["weights"]), out / "model.onnx")
    curve = training_curve(out / "train")
    shutil.rmtree(out / "train" / "yolov5", ignore_errors=True)
    return onnx, {
        "epochs": epochs,
        "imgsz": args.imgsz,
        "train_s": round(time.monotonic() - started, 1),
        "train_map50_curve": curve,
        "converged": converged(curve),
    }


def training_curve(train_dir: Path) -> list[float]:
    """yolov5's per-epoch mAP@0.5 on the training images (its results.csv)."""
    found = sorted(train_dir.rglob("results.csv"))
    if not found:
        return []
    with open(found[-1]) as fh:
        rows = list(csv.reader(fh))
    col = [c.strip() for c in rows[0]].index("metrics/mAP_0.5")
    return [round(float(r[col]), 4) for r in rows[1:]]


def converged(curve: Sequence[float], tolerance: float = 0.02) -> bool:
    tail = curve[-max(2, len(curve) // 4) :]
    return bool(tail) and max(tail) - min(tail) < tolerance


def score(onnx: Path, folder: Path, clip: Path, truth: Path) -> dict[str, Any]:
    """Held-out detection (mAP@0.5, per class) and counting (line family + sample lines) of one model."""
    settings = EvalSettings(input_size=480, conf_threshold=0.4, latency_images=1)
    detection, _ = detection_scores(onnx, folder, CLASSES, settings)
    cfg = device_config(onnx)
    cfg = cfg.model_copy(update={"cameras": [cfg.cameras[0].model_copy(update={"source": str(clip)})]})
    family = evaluate_line_family(cfg, truth, FAMILY)
    sample = evaluate_sequence(cfg, truth)
    sample_lines = sample["lines"].values()
    wrong = sum(abs(v["counted"][d] - v["truth"][d]) for v in sample_lines for d in ("in", "out"))
    total = sum(v["truth"][d] for v in sample_lines for d in ("in", "out"))
    return {
        "map50": round(detection["map50"], 4),
        "ap50": {c: round(v["ap50"], 4) for c, v in detection["per_class"].items() if not math.isnan(v["ap50"])},
        "family_accuracy": family["accuracy"],
        "family_wrong": family["wrong"],
        "family_crossings": family["crossings"],
        "sample_lines_wrong": wrong,
        "sample_lines_crossings": total,
        "idf1": sample["idf1"],
    }


# -- the grid --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    strategy: str
    budget: int  # frames picked from the pool, on top of the seed set
    seed: int

    @property
    def name(self) -> str:
        return f"{self.strategy}-{self.budget}-{self.seed}"


def grid(strategies: Sequence[str], budgets: Sequence[int], seeds: Sequence[int], pool: int) -> list[Run]:
    """Every strategy × budget below the pool × seed, the whole pool once per seed (it is the same set for
    every strategy) and the production model (budget 0) once per seed."""
    runs = [Run("production", 0, s) for s in seeds]
    runs += [Run(st, b, s) for b in sorted(budgets) if b < pool for st in strategies for s in seeds]
    runs += [Run("all", pool, s) for s in seeds]
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "label-efficiency")
    ap.add_argument("--budgets", type=int, nargs="+", default=[8, 16, 32, 64])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    ap.add_argument("--seed-frames", type=int, default=16)
    ap.add_argument("--images-seen", type=int, default=1200, help="training images per run (epochs × set size)")
    ap.add_argument("--min-epochs", type=int, default=10)
    ap.add_argument("--imgsz", type=int, default=480)
    ap.add_argument(
        "--checkpoint",
        choices=["best", "last"],
        default="last",
        help="the candidate's epoch: last, or yolov5's best by fitness on the training images themselves",
    )
    ap.add_argument("--max-per-minute", type=int, default=300, help="the pool's capture rate limit")
    ap.add_argument(
        "--ceiling",
        type=int,
        default=0,
        help="also train on this many frames spread over 1–600, every one labelled (no selection): what labels "
        "can buy at all in this scene",
    )
    ap.add_argument(
        "--ceiling-images-seen", type=int, default=0, help="training images for a ceiling run (0: --images-seen)"
    )
    ap.add_argument("--report", action="store_true", help="only print the table and draw the PNG")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "runs.jsonl"
    if args.report:
        report(results, args.out)
        return
    done = {json.loads(line)["run"] for line in results.read_text().splitlines()} if results.exists() else set()
    work = Path(tempfile.mkdtemp(prefix="footfall-labeleff-"))
    annotator = MotAnnotator(GT, IDENTITIES, CLASSES)
    seeds = seed_frames(args.seed_frames, POOL_LAST_FRAME)
    seed_set = video_examples(VIDEO, seeds)
    folder, clip, truth = heldout(work, annotator)
    production = args.out / "production.onnx"
    if not production.exists():
        data = write_training_set(seed_set, annotator, work / "turn1")
        onnx, _ = train(data, work / "turn1", images=len(seed_set), seed=0, args=args)
        shutil.copy(onnx, production)
    items, captures = capture_pool(work, production, args.max_per_minute)
    items = [i for i in items if int(i.meta["frame"]) + 1 not in seeds]
    records = to_records(items, CLASSES)
    pool = {
        "frames": len(items),
        "boxes_by_class": dict(zip(CLASSES, records.class_counts.sum(0).tolist(), strict=True)),
        "count_risk_frames": int((records.count_risk > 0).sum()),
        "seed_frames": seeds,
    }
    (args.out / "pool.json").write_text(json.dumps(pool, indent=1))
    print(json.dumps(pool), flush=True)
    runs = grid(args.strategies, args.budgets, args.seeds, len(items))
    runs += [Run("ceiling", args.ceiling, s) for s in args.seeds if args.ceiling]
    for run in runs:
        if run.name in done:
            continue
        started = time.monotonic()
        out = work / run.name
        labelled_frames = len(seeds) + run.budget
        if run.strategy == "production":
            onnx, training, rows, reasons, off = production, {}, np.zeros(0, np.int64), {}, {}
        elif run.strategy == "ceiling":
            frames = sorted({*seeds, *seed_frames(run.budget, POOL_LAST_FRAME)})
            data = write_training_set(video_examples(VIDEO, frames), annotator, out)
            seen = args.ceiling_images_seen or args.images_seen
            ceiling_args = argparse.Namespace(**{**vars(args), "images_seen": seen})
            onnx, training = train(data, out, images=len(frames), seed=run.seed, args=ceiling_args)
            rows, reasons, off, labelled_frames = np.zeros(0, np.int64), {}, {}, len(frames)
        else:
            choice = choose(records, run.strategy, run.budget, run.seed)
            rows, reasons, off = choice.rows, choice.reasons, choice.terms_off
            data = write_training_set([*seed_set, *pool_examples(items, rows.tolist(), captures)], annotator, out)
            onnx, training = train(data, out, images=len(seeds) + len(rows), seed=run.seed, args=args)
        truth_frames = [int(items[r].meta["frame"]) + 1 for r in rows.tolist()]
        labelled = annotator.rows[np.isin(annotator.rows[:, 0], truth_frames)]
        female = sum(annotator.class_of.get(int(i)) == "female_adult" for i in labelled[:, 1])
        result = {
            "run": run.name,
            **asdict(run),
            "labelled_frames": labelled_frames,
            "chosen_female_boxes": int(female),
            "chosen_boxes": len(labelled),
            "reasons": reasons,
            "terms_off": off,
            **training,
            **score(onnx, folder, clip, truth),
            "seconds": round(time.monotonic() - started, 1),
        }
        with open(results, "a") as fh:
            fh.write(json.dumps(result) + "\n")
        print(json.dumps({k: v for k, v in result.items() if k != "train_map50_curve"}), flush=True)
        shutil.rmtree(out, ignore_errors=True)
    report(results, args.out)


# -- the report ------------------------------------------------------------------------------------


def _cell(values: Sequence[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def report(results: Path, out: Path) -> None:
    """Markdown tables (mean ± sd over seeds) and the learning curves (``out/label_efficiency.png``)."""
    runs = [json.loads(line) for line in results.read_text().splitlines()]
    metrics = {
        "mAP@0.5": lambda r: r["map50"],
        "AP@0.5 female_adult (rare)": lambda r: r["ap50"].get("female_adult", float("nan")),
        "AP@0.5 male_adult": lambda r: r["ap50"].get("male_adult", float("nan")),
        "count accuracy, 24 random lines": lambda r: r["family_accuracy"],
    }
    strategies = sorted(
        {r["strategy"] for r in runs}, key=lambda s: ([*STRATEGIES, "production", "all", "ceiling"]).index(s)
    )
    budgets = sorted({r["budget"] for r in runs})
    for title, get in metrics.items():
        print(f"\n{title} (frames 601–795; mean ± sd over seeds)\n")
        print("| strategy | " + " | ".join(f"+{b}" for b in budgets) + " |")
        print("|---|" + "---|" * len(budgets))
        for st in strategies:
            cells = [_cell([get(r) for r in runs if r["strategy"] == st and r["budget"] == b]) for b in budgets]
            print(f"| {st} | " + " | ".join(cells) + " |")
    plot(runs, metrics, strategies, out / "label_efficiency.png")


def plot(runs: list[dict], metrics: dict[str, Callable[[dict], float]], strategies: list[str], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ["AP@0.5 female_adult (rare)", "mAP@0.5", "count accuracy, 24 random lines"]
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 4))
    ends = [r for r in runs if r["strategy"] in ("production", "all")]
    ceiling = [r for r in runs if r["strategy"] == "ceiling"]
    for ax, title in zip(axes, shown, strict=True):
        get = metrics[title]
        for st in strategies:
            if st in ("production", "all", "ceiling"):
                continue
            mine = [r for r in runs if r["strategy"] == st] + ends
            xs = sorted({r["labelled_frames"] for r in mine})
            ys = [[get(r) for r in mine if r["labelled_frames"] == x] for x in xs]
            mean = [statistics.mean(y) for y in ys]
            sd = [statistics.stdev(y) if len(y) > 1 else 0.0 for y in ys]
            ax.errorbar(xs, mean, yerr=sd, marker="o", capsize=3, label=st)
        for r in ceiling:
            ax.scatter([r["labelled_frames"]], [get(r)], marker="*", s=90, color="black", zorder=3)
        if ceiling:
            ax.scatter([], [], marker="*", s=90, color="black", label="every frame labelled (ceiling)")
        ax.set_xscale("log", base=2)
        ticks = sorted({r["labelled_frames"] for r in runs})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("labelled frames (16 seed frames + chosen; the last: the whole pool)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle("PETS09-S2L1: pool = frames 1–600 captured by the device, scored on frames 601–795")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"\nwrote {png}")


if __name__ == "__main__":
    main()
