"""mAP@0.5 on the PETS09-S2L1 validation split: COCO yolov5n versus yolov5n fine-tuned on the training split.

Both models are scored in the same run by the same code (retrain.evaluate: the edge's ONNX detector,
COCO-style AP). Training runs in .venv-train exactly as a retrain cycle does. Prints the absolute
figures and the fine-tuned/COCO ratio, plus yolov5's own validation mAP of the last epoch for reference.

    .venv/bin/python bench/finetune_map.py --epochs 10 --imgsz 320
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from footfall.common.yolo_dataset import describe  # noqa: E402
from footfall.edge.detectors.export import export_onnx  # noqa: E402
from footfall.retrain.config import EvalSettings, TrainSettings  # noqa: E402
from footfall.retrain.evaluate import detection_scores  # noqa: E402
from footfall.retrain.trainer import run_training  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
PETS = DATA / "yolo" / "pets09_s2l1_person"
YOLOV5N = DATA / "weights" / "yolov5n.pt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--imgsz", type=int, default=320, help="training and evaluation input size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="keep the run here (default: a temporary folder)")
    args = ap.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="footfall-bench-"))
    data_yaml = work / "data.yaml"
    work.mkdir(parents=True, exist_ok=True)
    # yolov5 chooses its best epoch on the training images: the val split is the held-out set, scored below
    data_yaml.write_text(f"path: {PETS}\ntrain: images/train\nval: images/train\nnames: [person]\n")
    settings = EvalSettings(input_size=args.imgsz, conf_threshold=0.4)

    started = time.time()
    summary = run_training(
        TrainSettings(epochs=args.epochs, imgsz=args.imgsz, batch=16, workers=0, seed=args.seed),
        parent=YOLOV5N,
        names=["person"],
        data_yaml=data_yaml,
        out=work / "train",
    )
    train_s = time.time() - started
    tuned = export_onnx(Path(summary["weights"]), work / "tuned.onnx")
    coco = export_onnx(YOLOV5N, work / "coco.onnx")
    manifest = describe(PETS)
    rows = {}
    for label, model in (("coco_yolov5n", coco), ("finetuned", tuned)):
        scores, latency = detection_scores(model, PETS, ["person"], settings)
        rows[label] = {k: round(scores[k], 4) for k in ("map50", "map50_95", "precision", "recall")}
        rows[label]["latency_ms_cpu"] = latency
    result = {
        "heldout": "pets09_s2l1_person val split (39 images, 271 boxes)",
        "heldout_fingerprint": manifest.fingerprint,
        "epochs": args.epochs,
        "imgsz": args.imgsz,
        "train_seconds": round(train_s, 1),
        **rows,
        "ratio_map50_finetuned_over_coco": round(rows["finetuned"]["map50"] / rows["coco_yolov5n"]["map50"], 4),
        "yolov5_val_map50_last_epoch": summary["results"][-1].get("metrics/mAP_0.5") if summary["results"] else None,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
