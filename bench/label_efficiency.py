"""Label efficiency: model quality after fine-tuning on N harvested frames, `balanced` versus `random`.

A simulated annotator answers from the PETS09-S2L1 ground truth. The pool is what the edge really
captured from vtest.avi (frames ≤ 600 only; frames > 600 are the held-out PETS val split, so nothing
scored was seen in training). For each budget N, strategy and seed: select N frames, label them from
gt.txt, fine-tune yolov5n (in .venv-train), export, and score mAP@0.5 on the held-out split with the
same evaluator as the retrain gate. Prints every run, the means, and the COCO baseline of the same run.

    .venv/bin/python bench/label_efficiency.py --budgets 8 16 32 --seeds 0 1 --epochs 8
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from footfall.common.geometry import Line, Point  # noqa: E402
from footfall.common.mot import load_mot, yolo_boxes  # noqa: E402
from footfall.common.yolo import write_labels  # noqa: E402
from footfall.edge.build import CameraPipeline  # noqa: E402
from footfall.edge.capture import CaptureSink, Spool  # noqa: E402
from footfall.edge.config import CaptureConfig, ModelConfig  # noqa: E402
from footfall.edge.counting import CrossingCounter  # noqa: E402
from footfall.edge.detectors import create_detector  # noqa: E402
from footfall.edge.detectors.export import export_onnx  # noqa: E402
from footfall.edge.pipeline import run_camera  # noqa: E402
from footfall.edge.sources import VideoSource  # noqa: E402
from footfall.edge.store import CountStore  # noqa: E402
from footfall.edge.sync import sync_spool  # noqa: E402
from footfall.edge.tracking import create_tracker  # noqa: E402
from footfall.harvest.collect import list_items, to_records  # noqa: E402
from footfall.harvest.select import Budget, select  # noqa: E402
from footfall.registry.storage import open_storage  # noqa: E402
from footfall.retrain.config import EvalSettings, TrainSettings  # noqa: E402
from footfall.retrain.evaluate import detection_scores  # noqa: E402
from footfall.retrain.trainer import run_training  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
VIDEO, GT = DATA / "videos" / "vtest.avi", DATA / "mot" / "PETS09-S2L1" / "gt" / "gt.txt"
PETS = DATA / "yolo" / "pets09_s2l1_person"
YOLOV5N = DATA / "weights" / "yolov5n.pt"
START = 1.7e9


def capture_pool(work: Path, model: Path) -> list:
    spool = work / "spool"
    cfg = CaptureConfig(dir=spool, max_per_minute=300, min_gap_s=0.5, background_share=1.0, random_share=0.3)
    detector = create_detector(ModelConfig(path=model, input_size=480, conf_threshold=0.25))
    counter = CrossingCounter("plaza", {"x240": Line(Point(240, 0), Point(240, 360))}, ["person"])
    with CountStore(work / "c.db") as store, CaptureSink(cfg, "plaza", "s1", ["person"], "coco") as sink:
        run_camera(
            CameraPipeline(
                detector=detector,
                tracker=create_tracker("bytetrack", stitch_max_gap_frames=50),
                counter=counter,
                source=VideoSource(str(VIDEO), start_ts=START),
            ),
            camera="plaza",
            store=store,
            session="s1",
            on_tracks=sink.offer,
            max_frames=600,
        )
    url = f"file://{work / 'uploaded'}"
    sync_spool(Spool(spool, 1e12, 1e12), open_storage(url), "pets")
    return list_items(open_storage(url), START - 1, START + 3600)


def labelled_folder(items: list, chosen: np.ndarray, gt: np.ndarray, captures: str, out: Path) -> None:
    storage = open_storage(captures)
    (out / "images" / "train").mkdir(parents=True)
    (out / "labels" / "train").mkdir(parents=True)
    for row in chosen.tolist():
        item = items[row]
        target = out / "images" / "train" / f"{item.item}.jpg"
        with open(target, "wb") as fh:
            storage.download(item.image_key, fh)
        h, w = cv2.imread(str(target)).shape[:2]
        frame = int(item.meta["frame"]) + 1
        boxes = yolo_boxes(gt[gt[:, 0] == frame], w, h, lambda _identity: 0)
        write_labels(out / "labels" / "train" / f"{item.item}.txt", boxes)
    (out / "data.yaml").write_text(f"path: {out}\ntrain: images/train\nval: images/train\nnames: [person]\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--strategies", nargs="+", default=["random", "balanced"])
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="footfall-labeleff-"))
    coco = export_onnx(YOLOV5N, work / "coco.onnx")
    items = capture_pool(work, coco)
    records = to_records(items, ["person"], conf_threshold=0.25)
    gt = load_mot(GT)
    settings = EvalSettings(input_size=args.imgsz, conf_threshold=0.4, latency_images=1)
    baseline, _ = detection_scores(coco, PETS, ["person"], settings)
    runs = []
    for budget in args.budgets:
        for strategy in args.strategies:
            for seed in args.seeds:
                chosen = select(records, Budget(budget), strategy, seed)
                run = work / f"{strategy}-{budget}-{seed}"
                labelled_folder(items, chosen.index, gt, f"file://{work / 'uploaded'}", run / "data")
                summary = run_training(
                    TrainSettings(
                        epochs=args.epochs, imgsz=args.imgsz, batch=16, workers=0, seed=seed, image_weights=False
                    ),
                    parent=YOLOV5N,
                    names=["person"],
                    data_yaml=run / "data" / "data.yaml",
                    out=run / "train",
                )
                onnx = export_onnx(Path(summary["weights"]), run / "model.onnx")
                scores, _ = detection_scores(onnx, PETS, ["person"], settings)
                runs.append({"budget": budget, "strategy": strategy, "seed": seed, "map50": round(scores["map50"], 4)})
                print(json.dumps(runs[-1]), flush=True)
                shutil.rmtree(run / "train" / "yolov5", ignore_errors=True)
    means = {
        f"{s}@{b}": round(statistics.mean(r["map50"] for r in runs if r["strategy"] == s and r["budget"] == b), 4)
        for s in args.strategies
        for b in args.budgets
    }
    print(
        json.dumps(
            {
                "pool_frames": len(items),
                "heldout": "PETS val split (frames > 600)",
                "coco_baseline_map50": round(baseline["map50"], 4),
                "mean_map50": means,
                "epochs": args.epochs,
                "imgsz": args.imgsz,
                "seeds": args.seeds,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
