"""Export an original YOLOv5 checkpoint to ONNX with dynamic input size and class names inside."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from footfall.common.files import sha256_file
from footfall.edge.detectors.yolov5_compat import load_checkpoint_model, model_names


def export_onnx(weights: Path, out: Path, *, opset: int = 17, model_version: str | None = None) -> Path:
    """Write ``out`` atomically; return it. Height and width stay dynamic (multiples of the stride)."""
    import onnx
    import torch

    model = load_checkpoint_model(weights)
    stride = int(max(model.stride))
    for module in model.modules():
        if type(module).__name__ == "Detect":
            module.export = True  # return only the concatenated predictions
    dummy = torch.zeros(1, 3, 384, 480)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    torch.onnx.export(
        model,
        (dummy,),
        str(tmp),
        opset_version=opset,
        input_names=["images"],
        output_names=["output0"],
        dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}, "output0": {0: "batch", 1: "anchors"}},
        dynamo=False,
    )
    proto = onnx.load(str(tmp))
    onnx.checker.check_model(proto)
    meta = {
        "names": json.dumps(model_names(model)),
        "stride": str(stride),
        "source_sha256": sha256_file(weights),
        "model_version": model_version or sha256_file(weights)[:12],
    }
    write_metadata(proto, meta)
    onnx.save(proto, str(tmp))
    os.replace(tmp, out)
    return out


def write_metadata(proto: Any, meta: dict[str, str]) -> None:
    """Make ``meta`` the ONNX model's metadata (class names, stride, model version: what the detector reads)."""
    del proto.metadata_props[:]
    for key, value in meta.items():
        prop = proto.metadata_props.add()
        prop.key, prop.value = key, value
