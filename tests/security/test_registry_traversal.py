"""A registry writer must not own the stores: names in a tampered manifest never become paths outside
the destination, and nothing is written before every name and checksum checked out (issue #17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from footfall.common.yolo import DatasetError
from footfall.registry.artefacts import IntegrityError, Ref
from footfall.registry.core import Registry
from footfall.registry.datasets import DatasetStore
from footfall.registry.signing import Trust
from footfall.registry.storage import FileStorage


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", ["../../outside.txt", "/tmp/footfall-outside.txt", "sub/model.onnx", ".."])
def test_a_model_artefact_name_that_is_not_a_plain_file_name_is_refused(
    tmp_path: Path, name: str, trust: Trust
) -> None:
    store = tmp_path / "bucket"
    reg = Registry(FileStorage(store), trust)
    model = tmp_path / "model.onnx"
    model.write_bytes(b"weights")
    reg.publish("people", {"model.onnx": model})
    key = store / "models" / "people" / "versions" / "00000001" / "metadata.json"
    meta = json.loads(key.read_text())
    meta["files"] = {name: meta["files"]["model.onnx"]}  # a bucket writer renames the artefact
    key.write_text(json.dumps(meta))
    (store / "models" / "people" / "versions" / "00000001" / "artefacts" / "model.onnx").rename(
        store / "models" / "people" / "versions" / "00000001" / "artefacts" / "x"
    )
    before = _files(tmp_path)
    dest = tmp_path / "device" / "models"
    with pytest.raises(IntegrityError, match="is not a plain file name"):
        reg.fetch(Ref.parse("people:1"), dest)
    assert _files(tmp_path) == before  # nothing written, inside the destination or outside it
    assert not Path("/tmp/footfall-outside.txt").exists()


@pytest.mark.parametrize("name", ["../../../outside.txt", "images/../../outside.jpg", "/etc/cron.d/x"])
def test_a_dataset_file_name_outside_its_folder_is_refused(tmp_path: Path, name: str, trust: Trust) -> None:
    folder = tmp_path / "ds"
    (folder / "images" / "train").mkdir(parents=True)
    (folder / "data.yaml").write_text("names: [person]\n")
    (folder / "images" / "train" / "a.jpg").write_bytes(b"jpeg")
    store = DatasetStore(FileStorage(tmp_path / "bucket"), trust)
    store.publish("shop", folder)
    key = tmp_path / "bucket" / "datasets" / "shop" / "v1" / "manifest.json"
    manifest = json.loads(key.read_text())
    manifest["files"][name] = manifest["files"]["images/train/a.jpg"]
    key.write_text(json.dumps(manifest))
    before = _files(tmp_path)
    with pytest.raises(DatasetError, match="is not a relative path of plain names"):
        store.fetch(Ref.parse("shop:1"), tmp_path / "cache")
    assert _files(tmp_path) == before
