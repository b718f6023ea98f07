"""Finished Label Studio annotations → a YOLO folder → an immutable dataset version.

Per task: the latest annotation that was not cancelled; a task whose only annotations were
cancelled (skipped by the annotator) or that has none is left out; an annotation with no boxes is a
background image (an empty label file). The split is by camera and time block: every frame of one
camera within one ``block_s`` window lands on the same side, so near-identical frames of the same
moment never sit in both train and val. An export whose every group falls on the val side (a few
cameras, one hour: it happens one time in 25 with two groups) goes to train whole: a version with
nothing to train on is of no use, and training then chooses its epoch on the training images.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from footfall.common.yolo import write_labels
from footfall.labeling.contract import boxes_of, final_annotation
from footfall.labeling.studio import Studio
from footfall.registry.datasets import DatasetManifest, DatasetStore

log = logging.getLogger(__name__)


def split_of(store: str, camera: str, ts: float, *, block_s: float = 3600, val_share: float = 0.2) -> str:
    """``val`` for a stable ``val_share`` of (store, camera, time block) groups, else ``train``."""
    block = int(ts // block_s)
    digest = hashlib.sha256(f"{store}/{camera}/{block}".encode()).digest()
    return "val" if int.from_bytes(digest[:4], "big") / 2**32 < val_share else "train"


def write_yolo(
    tasks: list[dict[str, Any]],
    classes: list[str],
    files_root: Path,
    out: Path,
    *,
    block_s: float = 3600,
    val_share: float = 0.2,
) -> dict[str, Any]:
    """Write ``out`` (images/, labels/, data.yaml) from tasks; return counts and the sources."""
    if out.exists():
        shutil.rmtree(out)
    counts: Counter[str] = Counter()
    stores, cameras, times, items = set(), set(), [], []
    finished = []
    for task in tasks:
        annotation = final_annotation(task)
        if annotation is None:
            counts["cancelled" if task.get("annotations") else "unlabelled"] += 1
            continue
        data = task["data"]
        split = split_of(
            data.get("store", ""),
            data.get("camera", ""),
            float(data.get("ts", 0)),
            block_s=block_s,
            val_share=val_share,
        )
        finished.append((data, annotation, split))
    if finished and all(split == "val" for _, _, split in finished):
        log.warning("export: every camera/time block fell on the val side; all %d frames go to train", len(finished))
        finished = [(data, annotation, "train") for data, annotation, _ in finished]
    for data, annotation, split in finished:
        boxes = boxes_of(annotation["result"], classes)
        image = Path(files_root) / data["path"]
        target = out / "images" / split / f"{data['item_id']}{image.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(image, target)
        write_labels(out / "labels" / split / f"{data['item_id']}.txt", boxes)
        counts[split] += 1
        counts["backgrounds"] += not boxes
        stores.add(data.get("store", ""))
        cameras.add(f"{data.get('store', '')}/{data.get('camera', '')}")
        times.append(float(data.get("ts", 0)))
        items.append(str(data["item_id"]))
    (out / "data.yaml").write_text(yaml.safe_dump({"names": list(classes)}, sort_keys=False))
    return {
        "counts": dict(counts),
        "sources": {
            "stores": sorted(stores),
            "cameras": sorted(cameras),
            "time_range": [min(times), max(times)] if times else None,
            "items": sorted(items),  # the captured items this version was built from (its lineage)
        },
    }


def export_project(
    studio: Studio,
    project: int,
    classes: list[str],
    files_root: Path,
    store: DatasetStore,
    name: str,
    *,
    block_s: float = 3600,
    val_share: float = 0.2,
) -> DatasetManifest:
    """Export ``project``'s finished annotations as the next version of dataset ``name``."""
    with tempfile.TemporaryDirectory(prefix="footfall-export-") as tmp:
        folder = Path(tmp) / "dataset"
        written = write_yolo(
            list(studio.tasks(project)), classes, files_root, folder, block_s=block_s, val_share=val_share
        )
        if not written["counts"].get("train") and not written["counts"].get("val"):
            raise ValueError(f"project {project} has no finished annotations to export ({written['counts']})")
        sources = {
            **written["sources"],
            "label_studio": {"url": studio.url, "project": project},
            "tasks": written["counts"],
        }
        manifest = store.publish(name, folder, sources=sources)
    return manifest
