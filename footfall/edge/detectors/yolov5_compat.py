"""Loading original ultralytics/yolov5 checkpoints without the yolov5 package's hub calls.

The original ``yolov5n.pt`` pickles ``models.yolo.DetectionModel``: it unpickles only with the yolov5
package's own folder on ``sys.path``. ``yolov5.load``/``attempt_load`` would ask the Hugging Face hub
first, which fails offline and with current huggingface-hub; ``torch.load`` does not.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from typing import Any


def _yolov5_dir() -> str:
    spec = importlib.util.find_spec("yolov5")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the yolov5 package is needed to read original .pt checkpoints. "
            "Fix: pip install --no-deps yolov5==7.0.14 (see scripts/setup.sh)"
        )
    return next(iter(spec.submodule_search_locations))


def load_checkpoint_model(path: Path) -> Any:
    """Return the float32, eval-mode, fused ``DetectionModel`` of an original checkpoint."""
    import torch

    # ultralytics (imported by yolov5's utils) writes a settings file on import; keep it out of $HOME.
    os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(tempfile.gettempdir(), "footfall-ultralytics"))
    folder = _yolov5_dir()
    if folder not in sys.path:
        sys.path.insert(0, folder)
    ckpt = torch.load(str(path), map_location="cpu", weights_only=False)
    model = ckpt.get("ema") or ckpt["model"] if isinstance(ckpt, dict) else ckpt
    model = model.float().eval()
    for module in model.modules():
        if hasattr(module, "inplace"):
            module.inplace = False  # required for tracing and harmless for inference
    if hasattr(model, "fuse"):
        model = model.fuse()
    return model


def model_names(model: Any) -> list[str]:
    names = model.names
    return [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
