"""The YOLO dataset folder every trainer reads, one owner for its layout::

    data.yaml                 names: [child, female_adult, male_adult]
    images/<split>/<file>     split is train, val or test
    labels/<split>/<stem>.txt one "class cx cy w h" line per box, normalised; empty = background

Reading and checking a folder (:func:`scan`), describing it (:func:`describe`: every file with its
SHA-256, boxes per class and split, a fingerprint over names + files) and merging several into one
(:func:`merge`). Versioning them is the registry's (``footfall.registry.datasets``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from footfall.common.files import FileEntry
from footfall.common.yolo import DatasetError, read_labels, write_labels

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
SPLITS = ("train", "val", "test")


def read_names(folder: Path) -> list[str]:
    """Class names from ``data.yaml`` (a list, or a dict index → name)."""
    path = folder / "data.yaml"
    if not path.is_file():
        raise DatasetError(f"{path}: missing. A YOLO dataset needs data.yaml with 'names'")
    doc = yaml.safe_load(path.read_text()) or {}
    names = doc.get("names")
    if isinstance(names, dict):
        if sorted(names) != list(range(len(names))):
            raise DatasetError(f"{path}: names keys must be 0..{len(names) - 1}, got {sorted(names)}")
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise DatasetError(f"{path}: 'names' must be a non-empty list of class names, got {names!r}")
    return names


@dataclass(frozen=True)
class Item:
    split: str
    image: Path
    label: Path | None  # None: background image (no boxes)


def scan(folder: Path) -> tuple[list[str], list[Item]]:
    """Names and items of a YOLO folder, after checking every label file."""
    folder = Path(folder)
    names = read_names(folder)
    items: list[Item] = []
    for split in SPLITS:
        image_dir = folder / "images" / split
        if not image_dir.is_dir():
            continue
        for image in sorted(image_dir.iterdir()):
            if image.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            label = folder / "labels" / split / f"{image.stem}.txt"
            if label.is_file():
                read_labels(label, len(names))
            items.append(Item(split, image, label if label.is_file() else None))
        label_dir = folder / "labels" / split
        if label_dir.is_dir():
            stems = {i.image.stem for i in items if i.split == split}
            orphans = sorted(p.name for p in label_dir.glob("*.txt") if p.stem not in stems)
            if orphans:
                raise DatasetError(f"{label_dir}: label files without an image: {orphans[:5]}")
    if not items:
        raise DatasetError(f"{folder}: no images under images/{{{','.join(SPLITS)}}}/")
    return names, items


def summarize(names: list[str], items: list[Item]) -> dict[str, Any]:
    """Per split: images, boxes, backgrounds, boxes per class."""
    out: dict[str, Any] = {}
    for split in SPLITS:
        mine = [i for i in items if i.split == split]
        if not mine:
            continue
        counts: Counter[str] = Counter()
        backgrounds = 0
        for item in mine:
            boxes = read_labels(item.label, len(names)) if item.label else []
            backgrounds += not boxes
            counts.update(names[b.cls] for b in boxes)
        out[split] = {
            "images": len(mine),
            "boxes": sum(counts.values()),
            "backgrounds": backgrounds,
            "class_counts": {n: counts.get(n, 0) for n in names},
        }
    return out


def fingerprint(names: list[str], files: Mapping[str, FileEntry]) -> str:
    """SHA-256 over the class names and every file's checksum: equal content, equal fingerprint."""
    canonical = json.dumps({"names": names, "files": {k: files[k].sha256 for k in sorted(files)}}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class FolderDescription:
    """What a dataset folder holds: class names, per split images/boxes/backgrounds/class counts, every
    file with its checksum, and the fingerprint over names + files."""

    names: list[str]
    splits: dict[str, Any]
    files: dict[str, FileEntry]
    fingerprint: str


def describe(folder: Path, splits: tuple[str, ...] | None = None) -> FolderDescription:
    """The description of a folder (of only its ``splits``, when given), after checking every label file."""
    folder = Path(folder)
    names, items = scan(folder)
    if splits is not None:
        unknown = sorted(set(splits) - set(SPLITS))
        if unknown:
            raise DatasetError(f"splits {unknown}: choose from {', '.join(SPLITS)}")
        items = [i for i in items if i.split in splits]
        if not items:
            raise DatasetError(f"{folder}: no images in the splits {list(splits)}")
    rels = ["data.yaml"]
    for item in items:
        rels.append(str(item.image.relative_to(folder)))
        if item.label:
            rels.append(str(item.label.relative_to(folder)))
    files = {rel: FileEntry.of(folder / rel) for rel in rels}
    return FolderDescription(names, summarize(names, items), files, fingerprint(names, files))


def merge(
    parts: list[tuple[Path, str]], out: Path, names: list[str], *, splits: tuple[str, ...] = ("train",)
) -> FolderDescription:
    """Write one YOLO folder from several, class ids remapped by name onto ``names``.

    ``parts`` are (folder, label), the label naming a version, e.g. ``store-labels:3``. Images are
    hard-linked when possible (copied otherwise) under ``<name>_v<N>_<file>`` so two versions never
    collide. A folder with a class outside ``names`` is an error naming both sets. Returns the merged
    folder's description (names, splits, fingerprint).
    """
    if out.exists():
        shutil.rmtree(out)
    for folder, label in parts:
        own, items = scan(folder)
        extra = sorted(set(own) - set(names))
        if extra:
            raise DatasetError(
                f"dataset {label} has classes {own}; the model is trained for {names}. Unknown: {extra}. "
                "Fix: map or drop those classes first"
            )
        remap = {i: names.index(n) for i, n in enumerate(own)}
        prefix = label.replace(":", "_v") + "_"
        for item in items:
            if item.split not in splits:
                continue
            target = out / "images" / item.split / f"{prefix}{item.image.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(item.image, target)
            except OSError:
                shutil.copyfile(item.image, target)
            boxes = [b.with_class(remap[b.cls]) for b in (read_labels(item.label, len(own)) if item.label else [])]
            write_labels(out / "labels" / item.split / f"{target.stem}.txt", boxes)
    (out / "data.yaml").write_text(yaml.safe_dump({"names": list(names)}, sort_keys=False))
    return describe(out)
