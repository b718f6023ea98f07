"""Versioned YOLO datasets: immutable, checksummed, fingerprinted; in a local folder or S3.

A dataset folder is the YOLO layout every trainer reads::

    data.yaml                 names: [child, female_adult, male_adult]
    images/<split>/<file>     split is train, val or test
    labels/<split>/<stem>.txt one "class cx cy w h" line per box, normalised; empty = background

``DatasetStore.publish`` checks the folder, uploads it as version N of a named dataset and writes a
manifest: every file with its SHA-256, class counts per split, the sources (stores, cameras, time
range) and a fingerprint over names + files. Versions never change; ``fetch`` verifies every
checksum before it places a version. Training and evaluation name a version (``NAME:N``) and record
its fingerprint, never "latest".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from footfall.common.files import sha256_file
from footfall.common.yolo import DatasetError, read_labels, write_labels
from footfall.registry.storage import NotFound, Storage, claim_number

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


def fingerprint(names: list[str], files: dict[str, dict[str, Any]]) -> str:
    canonical = json.dumps({"names": names, "files": {k: files[k]["sha256"] for k in sorted(files)}}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def describe(folder: Path, sources: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of a folder, before it has a name and version."""
    folder = Path(folder)
    names, items = scan(folder)
    rels = ["data.yaml"]
    for item in items:
        rels.append(str(item.image.relative_to(folder)))
        if item.label:
            rels.append(str(item.label.relative_to(folder)))
    files = {rel: {"sha256": sha256_file(folder / rel), "size": (folder / rel).stat().st_size} for rel in rels}
    return {
        "names": names,
        "splits": summarize(names, items),
        "files": files,
        "fingerprint": fingerprint(names, files),
        "sources": sources or {},
    }


def verify(folder: Path, manifest: dict[str, Any]) -> None:
    """Every file of the manifest present with its checksum; raise ``DatasetError`` otherwise."""
    for rel, info in manifest["files"].items():
        path = Path(folder) / rel
        if not path.is_file():
            raise DatasetError(f"{path}: missing (dataset {manifest.get('name')}:{manifest.get('version')})")
        if sha256_file(path) != info["sha256"]:
            raise DatasetError(f"{path}: SHA-256 differs from the manifest; the copy is damaged or was edited")


@dataclass(frozen=True)
class DatasetRef:
    """``NAME:VERSION`` (``NAME`` alone = the newest version, resolved once and recorded)."""

    name: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> DatasetRef:
        name, _, version = text.partition(":")
        if not name or (version and not version.lstrip("v").isdigit()):
            raise DatasetError(f"{text!r}: expected NAME or NAME:VERSION")
        return cls(name, int(version.lstrip("v")) if version else None)

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}:{self.version}"


class DatasetStore:
    """Dataset versions under ``datasets/NAME/vN/`` of a registry storage (local folder or S3)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @staticmethod
    def _vdir(name: str, version: int) -> str:
        return f"datasets/{name}/v{version}"

    def versions(self, name: str) -> list[int]:
        found = set()
        for key in self.storage.list(f"datasets/{name}/"):
            parts = key.split("/")
            if len(parts) >= 4 and parts[3] == "manifest.json":
                found.add(int(parts[2][1:]))
        return sorted(found)

    def manifest(self, ref: DatasetRef) -> dict[str, Any]:
        version = ref.version
        if version is None:
            versions = self.versions(ref.name)
            if not versions:
                raise DatasetError(f"dataset {ref.name!r} has no versions in {getattr(self.storage, 'url', '')}")
            version = versions[-1]
        try:
            data, _ = self.storage.get(f"{self._vdir(ref.name, version)}/manifest.json")
        except NotFound:
            raise DatasetError(f"dataset {ref.name}:{version} does not exist") from None
        manifest: dict[str, Any] = json.loads(data)
        return manifest

    def find(self, name: str, fingerprint_: str) -> dict[str, Any] | None:
        for version in reversed(self.versions(name)):
            manifest = self.manifest(DatasetRef(name, version))
            if manifest["fingerprint"] == fingerprint_:
                return manifest
        return None

    def publish(self, name: str, folder: Path, *, sources: dict[str, Any] | None = None) -> dict[str, Any]:
        """Upload ``folder`` as the next version of ``name``; the same content twice is one version."""
        manifest = describe(folder, sources)
        existing = self.find(name, manifest["fingerprint"])
        if existing is not None:
            return existing
        version = claim_number(
            self.storage, lambda n: f"{self._vdir(name, n)}/claim.json", max(self.versions(name), default=0) + 1
        )
        for rel in manifest["files"]:
            self.storage.upload(f"{self._vdir(name, version)}/files/{rel}", Path(folder) / rel)
        manifest = {"name": name, "version": version, "created_at": time.time(), **manifest}
        self.storage.put(
            f"{self._vdir(name, version)}/manifest.json", json.dumps(manifest, indent=1).encode(), if_none_match=True
        )
        return manifest

    def fetch(self, ref: DatasetRef, dest: Path) -> tuple[Path, dict[str, Any]]:
        """Place the version at ``dest/NAME/vN`` (verified; an intact copy is reused)."""
        manifest = self.manifest(ref)
        final = Path(dest) / manifest["name"] / f"v{manifest['version']}"
        try:
            verify(final, manifest)
            return final, manifest
        except DatasetError:
            pass
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}-"))
        try:
            for rel in manifest["files"]:
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as fh:
                    self.storage.download(f"{self._vdir(manifest['name'], manifest['version'])}/files/{rel}", fh)
            verify(tmp, manifest)
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final, manifest


def merge(
    parts: list[tuple[Path, dict[str, Any]]], out: Path, names: list[str], *, splits: tuple[str, ...] = ("train",)
) -> dict[str, Any]:
    """Write one YOLO folder from several dataset versions, class ids remapped by name onto ``names``.

    Images are hard-linked when possible (copied otherwise) under ``<dataset>_v<N>_<file>`` so two
    versions never collide. A dataset with a class outside ``names`` is an error naming both sets.
    Returns the merged folder's description (names, splits, fingerprint).
    """
    if out.exists():
        shutil.rmtree(out)
    for folder, manifest in parts:
        extra = sorted(set(manifest["names"]) - set(names))
        if extra:
            raise DatasetError(
                f"dataset {manifest.get('name')}:{manifest.get('version')} has classes {manifest['names']}; "
                f"the model is trained for {names}. Unknown: {extra}. Fix: map or drop those classes first"
            )
        remap = {i: names.index(n) for i, n in enumerate(manifest["names"])}
        prefix = f"{manifest.get('name', 'ds')}_v{manifest.get('version', 0)}_"
        for rel in manifest["files"]:
            kind, split, *rest = rel.split("/") if "/" in rel else ("", "", rel)
            if kind != "images" or split not in splits:
                continue
            src = folder / rel
            target = out / "images" / split / f"{prefix}{'_'.join(rest)}"
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, target)
            except OSError:
                shutil.copyfile(src, target)
            label = folder / "labels" / split / f"{src.stem}.txt"
            boxes = read_labels(label, len(manifest["names"])) if label.is_file() else []
            write_labels(out / "labels" / split / f"{target.stem}.txt", [b.with_class(remap[b.cls]) for b in boxes])
    (out / "data.yaml").write_text(yaml.safe_dump({"names": list(names)}, sort_keys=False))
    return describe(out)
