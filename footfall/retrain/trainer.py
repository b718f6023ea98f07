"""Start ``retrain.yolo_train`` in the training environment and follow it.

Training runs in its own virtual environment (``.venv-train``: yolov5 7.0.14 and the
huggingface-hub < 0.25 it needs), as on a real training server, so this module only prepares a spec
file, starts the three stages as subprocesses and relays their log. Several GPUs: the train stage
runs under ``torch.distributed.run`` with one process per GPU.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from footfall.common.process import die_with_parent, kill_group
from footfall.retrain.config import TrainSettings

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("footfall.retrain")


class TrainingError(RuntimeError):
    """Training did not produce a model; the message holds the end of its log and the fix."""


def train_python(settings: TrainSettings) -> Path:
    python = settings.python or Path(os.environ.get("FOOTFALL_TRAIN_PYTHON") or ROOT / ".venv-train" / "bin" / "python")
    if not Path(python).exists():
        raise TrainingError(
            f"training environment not found: {python}. Fix: run scripts/setup.sh (it builds .venv-train), "
            "or set retrain.train.python / FOOTFALL_TRAIN_PYTHON to a Python with yolov5==7.0.14"
        )
    return Path(python)


def stage_commands(python: Path, spec_path: Path, gpus: int) -> list[tuple[str, list[str]]]:
    """The three stages; the train stage fans out over ``gpus`` processes when there are several."""
    module = ["-m", "footfall.retrain.yolo_train"]
    train = [str(python), *module, "train", str(spec_path)]
    if gpus > 1:
        train = [
            str(python),
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={gpus}",
            *module,
            "train",
            str(spec_path),
        ]
    return [
        ("seed", [str(python), *module, "seed", str(spec_path)]),
        ("train", train),
        ("finish", [str(python), *module, "finish", str(spec_path)]),
    ]


def run_training(
    settings: TrainSettings,
    *,
    parent: Path,
    names: list[str],
    data_yaml: Path,
    out: Path,
    on_line: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fine-tune ``parent`` on ``data_yaml``; return the training summary (``weights`` = ``out/model.pt``)."""
    python = train_python(settings)
    out.mkdir(parents=True, exist_ok=True)
    spec = {
        "parent": str(parent),
        "names": names,
        "seed_from": settings.seed_from,
        "data": str(data_yaml),
        "hyp": str(settings.hyp),
        "epochs": settings.epochs,
        "batch": settings.batch,
        "imgsz": settings.imgsz,
        "device": settings.device,
        "workers": settings.workers,
        "seed": settings.seed,
        "image_weights": settings.image_weights,
        "freeze": settings.freeze,
        "checkpoint": settings.checkpoint,
        "out": str(out),
        "config_dir": str(out / "yolov5-config"),
    }
    spec_path = out / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    deadline = started + settings.timeout_s
    for stage, cmd in stage_commands(python, spec_path, settings.gpus):
        log.info("retrain: %s stage: %s", stage, " ".join(cmd))
        tail: deque[str] = deque(maxlen=40)
        with open(out / f"{stage}.log", "w") as logfile:
            proc = subprocess.Popen(
                cmd,
                cwd=out,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                preexec_fn=die_with_parent,
                start_new_session=True,  # its own group: a timeout kills the data-loader workers too
            )
            assert proc.stdout is not None
            # the deadline holds for a stage that hangs without a word too: a timer kills it
            watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), kill_group, (proc.pid,))
            watchdog.daemon = True
            watchdog.start()
            try:
                for line in proc.stdout:
                    logfile.write(line)
                    tail.append(line.rstrip())
                    if on_line:
                        on_line(line.rstrip())
                code = proc.wait()
            finally:
                watchdog.cancel()
        if time.monotonic() > deadline:
            raise TrainingError(f"training exceeded retrain.train.timeout_s = {settings.timeout_s} s")
        if code != 0:
            raise TrainingError(
                f"training stage {stage!r} failed (exit {code}); full log: {out / f'{stage}.log'}\n" + "\n".join(tail)
            )
    summary: dict[str, Any] = json.loads((out / "train_summary.json").read_text())
    summary["seconds"] = round(time.monotonic() - started, 1)
    summary["python"] = str(python)
    summary["results"] = read_results(out / "yolov5" / "results.csv")
    return summary


def read_results(path: Path) -> list[dict[str, float]]:
    """yolov5's per-epoch results.csv as a list of dicts (losses, validation mAP)."""
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    header = [h.strip() for h in lines[0].split(",")]
    return [dict(zip(header, map(float, row.split(",")), strict=False)) for row in lines[1:] if row.strip()]


def echo(line: str) -> None:
    """Relay a training log line to stderr (the CLI's progress view)."""
    print(f"  [train] {line}", file=sys.stderr, flush=True)
