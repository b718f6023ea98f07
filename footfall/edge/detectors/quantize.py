"""INT8 yolov5 for CPUs: static quantization calibrated on a store's own frames, the head kept FP32.

Quantizing the whole graph destroys a YOLOv5's output (bench/int8.py: AP 0 where FP32 has 0.90):
the box decoding after the output convolutions multiplies sigmoid scores into pixel coordinates,
which 8 bits cannot carry. So the output convolutions and everything after them stay FP32; the rest
is quantized per channel into QLinear operators (ONNX Runtime's QDQ form, on this project's
reference CPU, was slower than FP32: every SiLU went back to float).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from footfall.edge.detectors.common import preprocess
from footfall.edge.detectors.export import write_metadata

MIN_CALIBRATION_FRAMES = 8  # the fewest frames taken (the command's default is 40)


def head_nodes(graph: object) -> list[str]:
    """The output convolutions (convolutions no other convolution reads from) and every node after them."""
    nodes = list(graph.node)  # type: ignore[attr-defined]
    readers: dict[str, list[int]] = {}
    for i, n in enumerate(nodes):
        for name in n.input:
            readers.setdefault(name, []).append(i)

    def downstream(i: int) -> set[int]:
        seen, todo = set(), [i]
        while todo:
            for out in nodes[todo.pop()].output:
                for j in readers.get(out, []):
                    if j not in seen:
                        seen.add(j)
                        todo.append(j)
        return seen

    convs = [i for i, n in enumerate(nodes) if n.op_type == "Conv"]
    outputs = [i for i in convs if not any(nodes[j].op_type == "Conv" for j in downstream(i))]
    head = set(outputs).union(*(downstream(i) for i in outputs))
    return [nodes[i].name for i in sorted(head)]


def quantize_int8(
    fp32: Path,
    out: Path,
    calibration: Sequence[np.ndarray],
    *,
    input_size: int,
    stride: int = 32,
    head_fp32: bool = True,
    operators: bool = True,
) -> Path:
    """Write the INT8 model of ``fp32`` to ``out`` (atomically), calibrated on BGR frames ``calibration``.

    The class names, stride and model version of ``fp32`` are carried over; ``precision`` says int8
    and ``calibration_frames`` how many frames set the ranges. ``head_fp32=False`` (quantize the head
    too) and ``operators=False`` (QDQ form) are the variants bench/int8.py shows to be worse.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if len(calibration) < MIN_CALIBRATION_FRAMES:
        raise ValueError(
            f"{len(calibration)} calibration frames: give at least {MIN_CALIBRATION_FRAMES} of the store's own"
        )
    source = onnx.load(str(fp32))
    input_name = source.graph.input[0].name
    blobs: Iterable[np.ndarray] = (preprocess(f, input_size, stride)[0] for f in calibration)

    class Frames(CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            blob = next(blobs, None)  # type: ignore[call-overload]
            return None if blob is None else {input_name: blob}

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        quantized = Path(tmp) / "int8.onnx"
        quantize_static(
            str(pre),
            str(quantized),
            Frames(),
            quant_format=QuantFormat.QOperator if operators else QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=head_nodes(onnx.load(str(pre)).graph) if head_fp32 else [],
        )
        proto = onnx.load(str(quantized))
        meta = {p.key: p.value for p in source.metadata_props}
        write_metadata(proto, meta | {"precision": "int8", "calibration_frames": str(len(calibration))})
        staged = Path(tmp) / "final.onnx"
        onnx.save(proto, str(staged))
        os.replace(staged, out)
    return out


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def calibration_frames(source: Path, count: int) -> list[np.ndarray]:
    """``count`` frames spread over a folder of images (searched recursively) or a video file."""
    import cv2

    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        picked = files[:: max(1, len(files) // count)][:count]
        images = [img for p in picked if (img := cv2.imread(str(p))) is not None]
    else:
        cap = cv2.VideoCapture(str(source))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if not cap.isOpened() or total <= 0:
            raise ValueError(f"{source}: not a readable video or a folder of images")
        step, images = max(1, total // count), []
        for i in range(total):
            if len(images) == count or not cap.grab():
                break
            if i % step == 0:
                images.append(cap.retrieve()[1])
    if len(images) < MIN_CALIBRATION_FRAMES:
        raise ValueError(
            f"{source}: {len(images)} readable frames; calibration needs at least {MIN_CALIBRATION_FRAMES} "
            "of the store's own"
        )
    return images
