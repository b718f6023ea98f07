"""The one fetch-and-verify path of models and datasets: names are checked, files verified, then placed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from footfall.common.files import FileEntry
from footfall.registry.artefacts import IntegrityError, Ref, checked_relpath, place_verified
from footfall.registry.storage import FileStorage


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("people", Ref("people")),
        ("people@production", Ref("people", alias="production")),
        ("people:7", Ref("people", version=7)),
        ("people:v7", Ref("people", version=7)),
    ],
)
def test_one_reference_grammar(text: str, ref: Ref) -> None:
    assert Ref.parse(text) == ref
    assert Ref.parse(str(ref)) == ref


@pytest.mark.parametrize(
    ("name", "nested", "ok"),
    [
        ("model.onnx", False, True),
        ("images/train/a.jpg", True, True),
        ("images/train/a.jpg", False, False),
        ("../../etc/cron.d/x", True, False),
        ("/tmp/x", False, False),
        ("a/../b", True, False),
        ("./a", True, False),
        ("a//b", True, False),
        ("", False, False),
        ("a\\..\\b", True, False),
    ],
)
def test_only_plain_relative_names_become_paths(name: str, nested: bool, ok: bool) -> None:
    if ok:
        assert checked_relpath(name, nested=nested) == name
    else:
        with pytest.raises(IntegrityError, match="refusing the version"):
            checked_relpath(name, nested=nested)


def test_a_mismatch_places_nothing_and_leaves_no_temporary_folder(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "store")
    good, bad = tmp_path / "good.bin", tmp_path / "bad.bin"
    good.write_bytes(b"good")
    bad.write_bytes(b"bad")
    storage.upload("v/good.bin", good)
    storage.upload("v/bad.bin", bad)
    files = {"good.bin": FileEntry.of(good), "bad.bin": FileEntry.of(good)}  # bad.bin recorded wrongly
    dest = tmp_path / "dest"
    with pytest.raises(IntegrityError, match=r"bad\.bin: sha256 .* does not match"):
        place_verified(storage, lambda rel: f"v/{rel}", files, dest / "v1", what="x:1")
    assert list(dest.iterdir()) == []
    placed = place_verified(storage, lambda rel: f"v/{rel}", {"good.bin": FileEntry.of(good)}, dest / "v1", what="x:1")
    assert (placed / "good.bin").read_bytes() == b"good" and sorted(p.name for p in dest.iterdir()) == ["v1"]


def test_a_fetch_sweeps_the_temporary_folders_of_killed_fetches(tmp_path: Path) -> None:
    """A fetch killed midway leaves '.vN-…' behind; the next fetch removes it once it is clearly stale
    (an hour), and leaves a young one alone (it may belong to a fetch still running)."""
    storage = FileStorage(tmp_path / "bucket")
    model = tmp_path / "model.onnx"
    model.write_bytes(b"weights")
    storage.upload("a/model.onnx", model)
    dest = tmp_path / "device"
    stale, young = dest / ".v1-killed", dest / ".v1-running"
    for folder in (stale, young):
        (folder / "part").mkdir(parents=True)
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    entry = FileEntry.of(model)
    place_verified(storage, lambda rel: f"a/{rel}", {"model.onnx": entry}, dest / "v1", what="people:1")
    assert not stale.exists() and young.exists()
    assert (dest / "v1" / "model.onnx").read_bytes() == b"weights"
