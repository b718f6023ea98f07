from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from footfall.common.yolo import DatasetError
from footfall.common.yolo_dataset import describe, merge, scan
from footfall.registry.artefacts import Ref, RegistryError
from footfall.registry.datasets import DatasetStore
from footfall.registry.signing import Trust
from footfall.registry.storage import FileStorage
from tests.conftest import DATA

PETS = DATA / "yolo" / "pets09_s2l1_person"


def make_folder(root: Path, names: list[str], items: dict[str, str | None]) -> Path:
    """``items``: 'split/stem' → label text (None = no label file: a background image)."""
    (root / "data.yaml").parent.mkdir(parents=True, exist_ok=True)
    (root / "data.yaml").write_text(yaml.safe_dump({"names": names}))
    for key, label in items.items():
        split, stem = key.split("/")
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "images" / split / f"{stem}.jpg").write_bytes(f"jpeg {key}".encode())
        if label is not None:
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split / f"{stem}.txt").write_text(label)
    return root


def test_describe_real_pets_set() -> None:
    manifest = describe(PETS)
    assert manifest.names == ["person"]
    assert manifest.splits["train"] == {
        "images": 120,
        "boxes": 624,
        "backgrounds": 0,
        "class_counts": {"person": 624},
    }
    assert manifest.splits["val"]["boxes"] == 895 - 624  # the data README: 895 boxes in all
    assert describe(PETS).fingerprint == manifest.fingerprint  # deterministic


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("0 0.5 0.5 0.1", "expected 'class cx cy w h'"),
        ("3 0.5 0.5 0.1 0.1", r"class 3 outside 0..1"),
        ("0 1.5 0.5 0.1 0.1", "normalised to 0..1"),
        ("0 0.5 0.5 0 0.1", "w, h > 0"),
        ("x 0.5 0.5 0.1 0.1", "not numbers"),
    ],
)
def test_bad_label_lines_name_file_and_line(tmp_path: Path, label: str, message: str) -> None:
    folder = make_folder(tmp_path / "ds", ["a", "b"], {"train/x": f"0 0.5 0.5 0.1 0.1\n{label}\n"})
    with pytest.raises(DatasetError, match=message) as err:
        scan(folder)
    assert "x.txt:2" in str(err.value)


def test_background_images_and_orphan_labels(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", ["a"], {"train/x": "0 0.5 0.5 0.1 0.1\n", "train/y": None, "val/z": ""})
    summary = describe(folder).splits
    assert summary["train"]["backgrounds"] == 1 and summary["val"]["backgrounds"] == 1
    (folder / "labels" / "train" / "ghost.txt").write_text("")
    with pytest.raises(DatasetError, match=r"label files without an image: \['ghost\.txt'\]"):
        scan(folder)


def test_publish_is_immutable_deduplicated_and_fetch_verifies(tmp_path: Path, trust: Trust) -> None:
    store = DatasetStore(FileStorage(tmp_path / "reg"), trust)
    folder = make_folder(tmp_path / "ds", ["a"], {"train/x": "0 0.5 0.5 0.1 0.1\n", "val/y": ""})
    first = store.publish("shop", folder, sources={"store": "s1"})
    assert (first.version, first.sources) == (1, {"store": "s1"})
    assert store.publish("shop", folder).version == 1  # same content: same version
    (folder / "labels" / "val" / "y.txt").write_text("0 0.2 0.2 0.1 0.1\n")
    second = store.publish("shop", folder)
    assert second.version == 2 and second.fingerprint != first.fingerprint
    assert store.manifest(Ref.parse("shop")).version == 2  # NAME alone = newest

    placed, manifest = store.fetch(Ref.parse("shop:1"), tmp_path / "cache")
    assert manifest.fingerprint == first.fingerprint
    assert (placed / "labels" / "val" / "y.txt").read_text() == ""
    # a damaged stored object is refused and nothing is placed
    (tmp_path / "reg" / "datasets" / "shop" / "v2" / "files" / "labels" / "val" / "y.txt").write_text("tampered")
    with pytest.raises(DatasetError, match="does not match the published"):
        store.fetch(Ref.parse("shop:2"), tmp_path / "cache")
    assert not (tmp_path / "cache" / "shop" / "v2").exists()


def test_merge_remaps_classes_by_name_and_refuses_unknown(tmp_path: Path, trust: Trust) -> None:
    store = DatasetStore(FileStorage(tmp_path / "reg"), trust)
    a = make_folder(tmp_path / "a", ["male_adult", "child"], {"train/x": "0 0.5 0.5 0.1 0.1\n1 0.2 0.2 0.1 0.1\n"})
    b = make_folder(tmp_path / "b", ["child"], {"train/x": "0 0.3 0.3 0.1 0.1\n", "val/v": ""})
    fetched = [
        store.fetch(Ref("a", version=store.publish("a", a).version), tmp_path / "c"),
        store.fetch(Ref("b", version=store.publish("b", b).version), tmp_path / "c"),
    ]
    parts = [(folder, m.ref) for folder, m in fetched]
    out = merge(parts, tmp_path / "merged", ["child", "female_adult", "male_adult"])
    labels = {p.name: p.read_text() for p in (tmp_path / "merged" / "labels" / "train").iterdir()}
    assert labels == {
        "a_v1_x.txt": "2 0.500000 0.500000 0.100000 0.100000\n0 0.200000 0.200000 0.100000 0.100000\n",
        "b_v1_x.txt": "0 0.300000 0.300000 0.100000 0.100000\n",
    }
    assert out.splits["train"]["class_counts"] == {"child": 2, "female_adult": 0, "male_adult": 1}
    assert "val" not in out.splits  # only the requested splits
    with pytest.raises(DatasetError, match=r"classes \['male_adult', 'child'\].*trained for \['child'\].*'male_adult'"):
        merge(parts, tmp_path / "m2", ["child"])


@pytest.mark.parametrize("text", ["", "a:b", "a:1:2"])
def test_bad_refs(text: str) -> None:
    with pytest.raises(RegistryError, match="expected NAME, NAME@ALIAS or NAME:VERSION"):
        Ref.parse(text)


def test_a_dataset_ref_with_an_alias_is_refused(tmp_path: Path, trust: Trust) -> None:
    with pytest.raises(DatasetError, match="datasets have no aliases"):
        DatasetStore(FileStorage(tmp_path / "reg"), trust).manifest(Ref.parse("shop@production"))


def test_publishing_a_dataset_needs_the_signing_key(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "ds", ["a"], {"train/x": "0 0.5 0.5 0.1 0.1\n"})
    with pytest.raises(RegistryError, match=r"refusing to publish dataset shop unsigned.*--sign-key"):
        DatasetStore(FileStorage(tmp_path / "reg"), Trust()).publish("shop", folder)
    assert not (tmp_path / "reg").exists() or not any((tmp_path / "reg").rglob("*")), "nothing written"


def test_a_bucket_writers_dataset_is_refused_before_anything_is_placed(
    tmp_path: Path, trust: Trust, signing_keys: tuple[Path, Path]
) -> None:
    """Training labels decide what the next model counts: an unsigned version, or a signed one whose
    manifest was edited (labels swapped with their checksums updated), is refused on every read."""
    folder = make_folder(tmp_path / "ds", ["female_adult", "male_adult"], {"train/x": "0 0.5 0.5 0.1 0.1\n"})
    bucket = FileStorage(tmp_path / "reg")
    unsigned = DatasetStore(bucket, Trust(allow_unsigned=True)).publish("planted", folder)
    assert unsigned.signature is None
    reader = DatasetStore(bucket, Trust(verify_key=signing_keys[1]))
    with pytest.raises(DatasetError, match="dataset planted:1 is not signed"):
        reader.fetch(Ref.parse("planted:1"), tmp_path / "cache")

    signed = DatasetStore(bucket, trust).publish("shop", folder)
    assert signed.signature
    assert reader.manifest(Ref.parse("shop:1")).fingerprint == signed.fingerprint  # the training server reads it
    # the attacker swaps the classes of the label file and fixes its checksum in the manifest
    from footfall.common.files import sha256_file

    label = tmp_path / "reg" / "datasets" / "shop" / "v1" / "files" / "labels" / "train" / "x.txt"
    label.write_text("1 0.5 0.5 0.1 0.1\n")
    key = tmp_path / "reg" / "datasets" / "shop" / "v1" / "manifest.json"
    doc = json.loads(key.read_text())
    doc["files"]["labels/train/x.txt"] |= {"sha256": sha256_file(label), "size": label.stat().st_size}
    key.write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match="signature of dataset shop:1 does not verify"):
        reader.fetch(Ref.parse("shop:1"), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_reading_datasets_needs_a_key_or_an_explicit_opt_out(tmp_path: Path, trust: Trust) -> None:
    folder = make_folder(tmp_path / "ds", ["a"], {"train/x": "0 0.5 0.5 0.1 0.1\n"})
    bucket = FileStorage(tmp_path / "reg")
    DatasetStore(bucket, trust).publish("shop", folder)
    with pytest.raises(DatasetError, match=r"without a verify key.*--verify-key"):
        DatasetStore(bucket, Trust()).manifest(Ref.parse("shop:1"))
    # the exporter holds the private key only: it reads its own versions (to find identical content)
    assert DatasetStore(bucket, Trust(sign_key=trust.sign_key)).publish("shop", folder).version == 1
