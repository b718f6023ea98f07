"""One retraining cycle: datasets → fine-tune → export → evaluate both → gate → publish → promote.

Every input is pinned and recorded: dataset versions with their fingerprints, the parent model's
registry version (or the base checkpoint's SHA-256), the hyperparameter file's SHA-256, the training
settings and the code revision. The candidate is always published (so a rejected one can be
inspected); only an accepted one moves the ``canary`` alias.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from footfall.common.files import sha256_file
from footfall.common.yolo_dataset import merge
from footfall.registry.artefacts import MODEL_FILES, Ref, RegistryError
from footfall.registry.core import ModelVersion, Registry
from footfall.registry.datasets import DatasetManifest, DatasetStore
from footfall.registry.storage import open_storage
from footfall.retrain.config import RetrainConfig
from footfall.retrain.evaluate import evaluate_model, heldout_items
from footfall.retrain.gate import decide
from footfall.retrain.trainer import ROOT, run_training

log = logging.getLogger("footfall.retrain")


class CycleError(RuntimeError):
    """A cycle that cannot run as configured; nothing was published."""


def code_revision() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _export(weights: Path, out: Path, version: str) -> Path:
    from footfall.edge.detectors.export import export_onnx

    return export_onnx(weights, out, model_version=version)


class Cycle:
    """State of one run; ``run()`` does all stages in order, each logged."""

    def __init__(self, cfg: RetrainConfig, *, on_train_line: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg
        storage = open_storage(cfg.registry)
        assert cfg.signing is not None  # the config refuses a file without it
        self.registry = Registry(storage, cfg.signing.trust())
        self.datasets = DatasetStore(storage, cfg.signing.trust())
        self.run_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
        self.dir = cfg.work_dir / f"run-{self.run_id}"
        self.on_train_line = on_train_line

    # -- stages -----------------------------------------------------------------------------------
    def fetch_datasets(self) -> tuple[list[tuple[Path, DatasetManifest]], tuple[Path, DatasetManifest]]:
        cache = self.cfg.work_dir / "datasets"
        train = [self.datasets.fetch(Ref.parse(ref), cache) for ref in self.cfg.train_datasets]
        heldout = self.datasets.fetch(Ref.parse(self.cfg.heldout), cache)
        pinned = self.cfg.heldout_fingerprint
        if pinned and heldout[1].fingerprint != pinned:
            raise CycleError(
                f"held-out {self.cfg.heldout} has fingerprint {heldout[1].fingerprint}, not the pinned {pinned}. "
                "Fix: point retrain.heldout at the pinned version, or update retrain.heldout_fingerprint on purpose"
            )
        scored = {
            heldout[1].files[str(item.image.relative_to(heldout[0]))].sha256 for item in heldout_items(heldout[0])
        }
        # every split counts: a training set's val split chooses yolov5's best epoch, so a held-out
        # image there would take part in checkpoint selection
        for _, manifest in train:
            leaked = [
                rel for rel, info in manifest.files.items() if rel.startswith("images/") and info.sha256 in scored
            ]
            if leaked:
                raise CycleError(
                    f"{len(leaked)} images of training set {manifest.ref} are in the held-out set {self.cfg.heldout} "
                    f"(e.g. {leaked[0]}); the held-out set takes no part in training or checkpoint selection. "
                    "Fix: train on a version without them (footfall dataset publish --split train)"
                )
        return train, heldout

    def resolve_parent(self) -> dict[str, Any]:
        """The production model (fetched, verified) or, before the first promotion, the base checkpoint."""
        ref = Ref.parse(
            f"{self.cfg.model_name}:{self.cfg.parent.lstrip('v')}"
            if self.cfg.parent.lstrip("v").isdigit()
            else f"{self.cfg.model_name}@{self.cfg.parent}"
        )
        try:
            version = self.registry.resolve(ref)
        except RegistryError as exc:
            return self._base_parent(ref, exc)
        folder = self.registry.fetch(Ref(self.cfg.model_name, version=version), self.cfg.work_dir / "models")
        if not (folder / "model.pt").is_file():
            raise CycleError(f"{self.cfg.model_name}:{version} has no model.pt artefact to fine-tune from")
        # a parent without the product classes (the COCO bootstrap in production) is scored as the
        # baseline is: through evaluation.baseline_class_map
        verified = ModelVersion.from_dict(json.loads((folder / "metadata.json").read_text()))
        known = set(verified.class_names or [])
        lacks = not set(self.cfg.classes) <= known
        # judged as the stores run it: its network of the fleet's precision, when it was published with one
        runs = folder / MODEL_FILES[self.cfg.precision]
        return {
            "label": f"{self.cfg.model_name}:{version}",
            "version": version,
            "pt": folder / "model.pt",
            "onnx": runs if runs.is_file() else folder / MODEL_FILES["fp32"],
            "sha256": sha256_file(folder / "model.pt"),
            "class_map": self.cfg.evaluation.baseline_class_map if lacks else None,
        }

    def _base_parent(self, ref: Ref, missing: RegistryError) -> dict[str, Any]:
        """Before the first promotion: the original checkpoint, loaded only if its SHA-256 is the pinned one."""
        if not self.cfg.base_weights.is_file():
            raise CycleError(
                f"{missing}, and base_weights {self.cfg.base_weights} does not exist. Fix: set retrain.base_weights "
                "to an original YOLOv5 checkpoint (e.g. ../shared/data/weights/yolov5n.pt)"
            )
        digest = sha256_file(self.cfg.base_weights)
        if digest != self.cfg.base_weights_sha256:
            raise CycleError(
                f"base_weights {self.cfg.base_weights} has sha256 {digest}, not the pinned "
                f"{self.cfg.base_weights_sha256}; a checkpoint is a pickle that can run code, so an unknown one "
                "is never loaded. Fix: point base_weights at the original checkpoint, or set "
                "retrain.base_weights_sha256 to the new file's checksum after checking where it came from"
            )
        onnx = self.cfg.work_dir / "baseline" / f"{digest[:16]}.onnx"
        if not onnx.is_file():
            _export(self.cfg.base_weights, onnx, f"base:{digest[:12]}")
        log.info("retrain: %s not found; parent and baseline = %s", ref, self.cfg.base_weights)
        return {
            "label": f"base:{self.cfg.base_weights.name}",
            "pt": self.cfg.base_weights,
            "onnx": onnx,
            "sha256": digest,
            "class_map": self.cfg.evaluation.baseline_class_map,
        }

    def build_training_set(self, train: list[tuple[Path, DatasetManifest]]) -> Path:
        """Merged YOLO folder and its data.yaml; val = the datasets' val splits, else the training images
        (yolov5 7.0.14 cannot train more than one epoch with --noval: its logging reads an unset variable)."""
        data = self.dir / "data"
        merged = merge([(folder, m.ref) for folder, m in train], data, self.cfg.classes, splits=("train", "val"))
        has_val = "val" in merged.splits
        doc = {
            "path": str(data.resolve()),
            "train": "images/train",
            "val": "images/val" if has_val else "images/train",
            "names": dict(enumerate(self.cfg.classes)),
        }
        yaml_path = data / "train.yaml"
        yaml_path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return yaml_path

    def quantize(self, fp32: Path, data: Path) -> Path:
        """The candidate's INT8 network, calibrated on its own training images (the stores' frames; never
        the held-out set, which is not in the training set: ``fetch_datasets``)."""
        from footfall.edge.detectors.quantize import calibration_frames, quantize_int8

        frames = calibration_frames(data / "images" / "train", self.cfg.calibration_frames)
        log.info("retrain %s: quantizing to INT8 on %d training images", self.run_id, len(frames))
        return quantize_int8(fp32, self.dir / MODEL_FILES["int8"], frames, input_size=self.cfg.evaluation.input_size)

    # -- the whole cycle --------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        self.dir.mkdir(parents=True, exist_ok=True)
        started = time.time()
        log.info("retrain %s: [1/6] fetching datasets %s + held-out %s", self.run_id, cfg.train_datasets, cfg.heldout)
        train, heldout = self.fetch_datasets()
        log.info("retrain %s: [2/6] resolving the parent (%s)", self.run_id, cfg.parent)
        parent = self.resolve_parent()
        data_yaml = self.build_training_set(train)
        log.info("retrain %s: [3/6] fine-tuning %s for %d epochs", self.run_id, parent["label"], cfg.train.epochs)
        summary = run_training(
            cfg.train,
            parent=parent["pt"],
            names=cfg.classes,
            data_yaml=data_yaml,
            out=self.dir / "train",
            on_line=self.on_train_line,
        )
        log.info("retrain %s: [4/6] exporting to ONNX", self.run_id)
        weights = Path(summary["weights"])
        version = f"{cfg.model_name}:candidate-{self.run_id}"
        networks = {"fp32": _export(weights, self.dir / MODEL_FILES["fp32"], version)}
        if cfg.precision == "int8":
            networks["int8"] = self.quantize(networks["fp32"], data_yaml.parent)
        log.info("retrain %s: [5/6] evaluating candidate and %s on %s", self.run_id, parent["label"], cfg.heldout)
        cand_scores = evaluate_model(networks[cfg.precision], heldout, cfg.classes, cfg.evaluation)
        prod_scores = evaluate_model(
            parent["onnx"], heldout, cfg.classes, cfg.evaluation, class_map=parent["class_map"]
        )
        decision = decide(cand_scores, prod_scores, cfg.gate)
        log.info("retrain %s: [6/6] gate: %s", self.run_id, "; ".join(decision.reasons))
        metadata = {
            "class_names": cfg.classes,
            "precision": cfg.precision,  # the network the metrics and the gate are of
            "status": "candidate" if decision.accepted else "rejected",
            "metrics": cand_scores,
            # the network judged on each side: what the stores would run, against what they run
            "baseline": {"model": parent["label"], "network": parent["onnx"].name, "metrics": prod_scores},
            "network": networks[cfg.precision].name,
            "gate": decision.as_dict(),
            "lineage": {
                "parent": parent["label"],
                "parent_sha256": parent["sha256"],
                "train_datasets": [
                    {"dataset": m.ref, "fingerprint": m.fingerprint, "splits": m.splits} for _, m in train
                ],
                "heldout": {"dataset": heldout[1].ref, **heldout[1].splits},
                "hyp": {"file": cfg.train.hyp.name, "sha256": sha256_file(cfg.train.hyp)},
                "train": cfg.train.model_dump(mode="json", exclude={"python"}),
                "training": {k: summary[k] for k in ("seconds", "seeded_from", "from_checkpoint", "results")},
                "code_revision": code_revision(),
                "run_id": self.run_id,
            },
        }
        files = {MODEL_FILES[p]: path for p, path in networks.items()} | {"model.pt": weights}
        meta = self.registry.publish(cfg.model_name, files, metadata)
        promoted = None
        if decision.accepted:
            promoted = self.registry.promote(cfg.model_name, meta.version, cfg.gate.promote_to)
        report = {
            "run_id": self.run_id,
            "version": meta.version,
            "model": meta.ref,
            "accepted": decision.accepted,
            "precision": cfg.precision,
            "promoted_to": cfg.gate.promote_to if promoted else None,
            "reasons": decision.reasons,
            "candidate": cand_scores,
            "baseline": {"model": parent["label"], "metrics": prod_scores},
            "seconds": round(time.time() - started, 1),
            "run_dir": str(self.dir),
        }
        (self.dir / "report.json").write_text(json.dumps(report, indent=1))
        shutil.rmtree(self.dir / "data", ignore_errors=True)  # hard links of the fetched versions
        return report


def run_cycle(cfg: RetrainConfig, *, on_train_line: Callable[[str], None] | None = None) -> dict[str, Any]:
    return Cycle(cfg, on_train_line=on_train_line).run()
