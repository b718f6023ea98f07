"""Fine-tune a YOLOv5 checkpoint with the yolov5 package — run inside the training environment.

``python -m retrain.yolo_train SPEC.json`` (``retrain.trainer`` builds the spec and starts this in
``.venv-train``, whose yolov5 7.0.14 needs huggingface-hub<0.25, which the edge's boxmot cannot live
with). Imports only the standard library, torch, yaml and yolov5, so it runs there without the rest
of footfall's dependencies.

Offline switches (none of them may be dropped, or training reaches for the network):
- ``HF_HUB_OFFLINE=1``: train.py first asks the Hugging Face hub for the weights name; a local path
  fails its validation before any request, and offline mode guarantees none is made.
- ``YOLOv5_AUTOINSTALL=false``: ``check_requirements`` would pip-install what it finds missing.
- ``$YOLOV5_CONFIG_DIR/Arial.ttf``: label plots load this font and download it when absent; we copy
  matplotlib's bundled DejaVuSans there (and pass ``noplots``).
- ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``: train.py calls ``torch.load`` without ``weights_only``, which
  torch ≥ 2.6 defaults to True; yolov5 checkpoints are pickled models.
- ``WANDB_MODE=disabled``, ``COMET_MODE=disabled``, no ``--bucket``/``--upload_dataset``/hub ids:
  no logger or uploader starts.

Two things happen around ``yolov5.train.run``:
- **Seeding** (``seed_checkpoint``): the parent's detection head is cut to the dataset's classes, each
  new class starting from the parent's row of the same name, or of the class named in ``seed_from``,
  or of ``person``. train.py would otherwise re-initialise a head whose class count differs and throw
  away what the parent knew about people.
- **Original format** (``to_original``): the result is saved pickling ``models.yolo`` like the
  ultralytics checkpoints, the format the edge exporter and the next fine-tune read.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from copy import deepcopy
from pathlib import Path
from typing import Any


def offline_env(config_dir: Path) -> None:
    """Set the switches above; copy a font so nothing is downloaded."""
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["YOLOv5_AUTOINSTALL"] = "false"  # noqa: SIM112 (the name yolov5 reads)
    os.environ["YOLOV5_CONFIG_DIR"] = str(config_dir)
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)  # ultralytics, imported by yolov5's utils
    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    os.environ["WANDB_MODE"] = "disabled"
    os.environ["COMET_MODE"] = "disabled"
    os.environ.setdefault("MPLBACKEND", "Agg")
    font = config_dir / "Arial.ttf"
    if not font.is_file():
        import matplotlib

        shutil.copyfile(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf", font)


def _original_modules() -> Any:
    """``models.yolo`` as the original checkpoints name it (the yolov5 package folder on sys.path)."""
    import importlib.util

    spec = importlib.util.find_spec("yolov5")
    assert spec and spec.submodule_search_locations
    folder = next(iter(spec.submodule_search_locations))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import models.yolo

    return models.yolo


def _load(path: Path) -> Any:
    import torch

    _original_modules()
    ckpt = torch.load(str(path), map_location="cpu", weights_only=False)
    model = ckpt.get("ema") or ckpt["model"] if isinstance(ckpt, dict) else ckpt
    return model.float()


def _names(model: Any) -> list[str]:
    names = model.names
    return [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)


def seed_sources(parent_names: list[str], names: list[str], seed_from: dict[str, str]) -> list[int]:
    """Index of the parent class each new class starts from."""
    out = []
    for name in names:
        source = name if name in parent_names else seed_from.get(name, "person")
        if source not in parent_names:
            raise SystemExit(
                f"cannot seed class {name!r}: the parent model has no {source!r} (its classes: {parent_names}). "
                "Fix: set retrain.train.seed_from to a class it has"
            )
        out.append(parent_names.index(source))
    return out


def seed_checkpoint(parent: Path, names: list[str], seed_from: dict[str, str], out: Path) -> dict[str, Any]:
    """Write a checkpoint for ``names`` whose weights all come from ``parent``; return what was done."""
    import torch

    yolo = _original_modules()
    old = _load(parent)
    parent_names = _names(old)
    sources = seed_sources(parent_names, names, seed_from)
    cfg = deepcopy(old.yaml)
    cfg["nc"] = len(names)
    new = yolo.Model(cfg, ch=3, nc=len(names))
    target = new.state_dict()
    state = {k: v for k, v in old.state_dict().items() if k in target and v.shape == target[k].shape}
    new.load_state_dict(state, strict=False)
    old_head, new_head = old.model[-1], new.model[-1]
    rows = [0, 1, 2, 3, 4, *(5 + s for s in sources)]
    with torch.no_grad():
        for conv_old, conv_new in zip(old_head.m, new_head.m, strict=True):
            w = conv_old.weight.view(old_head.na, old_head.no, *conv_old.weight.shape[1:])
            b = conv_old.bias.view(old_head.na, old_head.no)
            conv_new.weight.copy_(w[:, rows].reshape(conv_new.weight.shape))
            conv_new.bias.copy_(b[:, rows].reshape(conv_new.bias.shape))
    new.names = list(names)
    new.nc = len(names)
    torch.save({"model": new, "epoch": -1, "optimizer": None, "ema": None, "updates": None}, str(out))
    return {
        "parent_classes": len(parent_names),
        "seeded_from": {n: parent_names[s] for n, s in zip(names, sources, strict=True)},
    }


def to_original(trained: Path, out: Path, names: list[str]) -> None:
    """Re-save a checkpoint written by yolov5's train.py (pickling ``yolov5.models.yolo``) in the
    original ``models.yolo`` format, half precision like the ultralytics releases."""
    import torch

    yolo = _original_modules()
    ckpt = torch.load(str(trained), map_location="cpu", weights_only=False)
    src = (ckpt.get("ema") or ckpt["model"]).float()
    model = yolo.Model(deepcopy(src.yaml), ch=3, nc=len(names))
    model.load_state_dict(src.state_dict(), strict=True)
    model.names = list(names)
    model.nc = len(names)
    model.hyp = getattr(src, "hyp", {})
    tmp = out.with_name(f".{out.name}.tmp")
    torch.save({"model": model.half(), "epoch": -1, "optimizer": None, "ema": None, "updates": None}, str(tmp))
    os.replace(tmp, out)


def seed(spec: dict[str, Any]) -> dict[str, Any]:
    """Stage 1 (one process): the seeded checkpoint ``OUT/seed.pt``."""
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    seeding = seed_checkpoint(Path(spec["parent"]), spec["names"], spec.get("seed_from") or {}, out / "seed.pt")
    print(f"retrain: seeded {seeding['seeded_from']} from {spec['parent']}", flush=True)
    (out / "seed.json").write_text(json.dumps(seeding))
    return seeding


def train(spec: dict[str, Any]) -> None:
    """Stage 2 (one process per GPU under torch.distributed.run, or one on CPU): yolov5's train.py."""
    out = Path(spec["out"])
    from yolov5 import train as yolov5_train

    yolov5_train.run(
        weights=str(out / "seed.pt"),
        data=str(spec["data"]),
        hyp=str(spec["hyp"]),
        epochs=int(spec["epochs"]),
        batch_size=int(spec["batch"]),
        imgsz=int(spec["imgsz"]),
        device=str(spec.get("device", "cpu")),
        workers=int(spec.get("workers", 0)),
        seed=int(spec.get("seed", 0)),
        image_weights=bool(spec.get("image_weights", False)),
        freeze=[int(spec.get("freeze", 0))],
        project=str(out),
        name="yolov5",
        exist_ok=True,
        noplots=True,
        noautoanchor=True,  # keep the parent's anchors: the edge and the seed share them
        patience=int(spec.get("patience", 100)),
    )


def chosen_checkpoint(weights: Path, which: str) -> Path:
    """``best.pt`` (yolov5's fitness on the val split) when asked for and written, else ``last.pt``."""
    best = weights / "best.pt"
    return best if which == "best" and best.is_file() else weights / "last.pt"


def finish(spec: dict[str, Any]) -> dict[str, Any]:
    """Stage 3 (one process): ``OUT/model.pt`` in the original format, and a summary."""
    out = Path(spec["out"])
    weights = out / "yolov5" / "weights"
    best = chosen_checkpoint(weights, spec.get("checkpoint", "best"))
    to_original(best, out / "model.pt", spec["names"])
    seeding = json.loads((out / "seed.json").read_text())
    summary = {**seeding, "weights": str(out / "model.pt"), "from_checkpoint": best.name}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=1))
    print(f"retrain: wrote {out / 'model.pt'} (from {best.name})", flush=True)
    return summary


STAGES = {"seed": seed, "train": train, "finish": finish}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in STAGES:
        print(f"usage: python -m retrain.yolo_train {{{'|'.join(STAGES)}}} SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[1]).read_text())
    offline_env(Path(spec.get("config_dir") or Path(tempfile.gettempdir()) / "footfall-yolov5"))
    STAGES[args[0]](spec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
