"""A bucket writer must not be able to put a model of their own on the stores or the training server.

Attacks: publish or fetch without a key, an unsigned version offered to a device, a signed version
whose metadata (class names) was edited afterwards, an alias moved back to an older signed version
(a downgrade), a private key file another local user can read, and an unknown checkpoint handed to
the training server as its base weights (a pickle runs code when it is loaded).

Every test drives the command a device or an operator runs (``footfall registry …``), so it exercises
the same path as the Ansible role.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
from pathlib import Path

import pytest

from tests.conftest import footfall_cmd


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(footfall_cmd(*args), capture_output=True, text=True, timeout=120)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "keys" / "registry.key", tmp_path / "keys" / "registry.pub"
    private.parent.mkdir()
    assert cli("registry", "keygen", "--private", str(private), "--public", str(public)).returncode == 0
    return private, public


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.onnx"
    path.write_bytes(os.urandom(4096))
    return path


def _url(tmp_path: Path) -> str:
    return f"file://{tmp_path / 'registry'}"


def _publish(tmp_path: Path, model: Path, *key_args: str) -> subprocess.CompletedProcess[str]:
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"class_names": ["female_adult", "male_adult"]}))
    return cli(
        "registry", "--url", _url(tmp_path), "publish", "people", "--file", f"model.onnx={model}",
        "--metadata", str(meta), *key_args,
    )  # fmt: skip


def test_publish_without_a_key_is_refused(tmp_path: Path, model: Path) -> None:
    run = _publish(tmp_path, model)
    assert run.returncode != 0, run.stdout
    assert "--sign-key" in run.stderr and "--unsigned" in run.stderr, run.stderr
    assert not (tmp_path / "registry" / "models" / "people" / "versions").exists(), "nothing was claimed"


def test_fetch_without_a_key_is_refused(tmp_path: Path, model: Path, keys: tuple[Path, Path]) -> None:
    assert _publish(tmp_path, model, "--sign-key", str(keys[0])).returncode == 0
    dest = tmp_path / "device"
    run = cli("registry", "--url", _url(tmp_path), "fetch", "people:1", "--dest", str(dest))
    assert run.returncode != 0, run.stdout
    assert "--verify-key" in run.stderr and "--allow-unsigned" in run.stderr, run.stderr
    assert not dest.exists()


def test_unsigned_version_is_refused_by_a_device_with_a_key(
    tmp_path: Path, model: Path, keys: tuple[Path, Path]
) -> None:
    assert _publish(tmp_path, model, "--unsigned").returncode == 0
    dest = tmp_path / "device"
    run = cli(
        "registry", "--url", _url(tmp_path), "fetch", "people:1", "--dest", str(dest), "--verify-key", str(keys[1])
    )
    assert run.returncode != 0
    assert "not signed" in run.stderr, run.stderr
    assert not dest.exists() or not any(dest.iterdir())


def test_opting_out_is_loud(tmp_path: Path, model: Path) -> None:
    published = _publish(tmp_path, model, "--unsigned")
    assert published.returncode == 0 and "UNSIGNED" in published.stderr, published.stderr
    run = cli(
        "registry", "--url", _url(tmp_path), "fetch", "people:1", "--dest", str(tmp_path / "d"), "--allow-unsigned"
    )
    assert run.returncode == 0, run.stderr
    assert "WITHOUT checking" in run.stderr, run.stderr


def test_edited_class_names_break_the_signature(tmp_path: Path, model: Path, keys: tuple[Path, Path]) -> None:
    """Swapping the class names of a signed model would swap the store owner's female and male counts."""
    assert _publish(tmp_path, model, "--sign-key", str(keys[0])).returncode == 0
    meta_path = tmp_path / "registry/models/people/versions/00000001/metadata.json"
    doc = json.loads(meta_path.read_text())
    doc["class_names"] = ["male_adult", "female_adult"]
    meta_path.write_text(json.dumps(doc))
    dest = tmp_path / "device"
    run = cli(
        "registry", "--url", _url(tmp_path), "fetch", "people:1", "--dest", str(dest), "--verify-key", str(keys[1])
    )
    assert run.returncode != 0, "a signature must cover every recorded field the device reads"
    assert "does not verify" in run.stderr, run.stderr
    assert not (dest / "v1").exists()


def test_alias_moved_back_is_a_downgrade(tmp_path: Path, model: Path, keys: tuple[Path, Path]) -> None:
    """An alias is not signed: pointing it at an older (vulnerable, signed) version must not roll stores back."""
    url, dest, pub = _url(tmp_path), tmp_path / "device", str(keys[1])
    for _ in range(2):
        assert _publish(tmp_path, model, "--sign-key", str(keys[0])).returncode == 0
    assert cli("registry", "--url", url, "promote", "people", "2", "--alias", "production").returncode == 0
    assert (
        cli("registry", "--url", url, "fetch", "people@production", "--dest", str(dest), "--verify-key", pub).returncode
        == 0
    )
    # the attacker rewrites the alias object directly (no history entry)
    alias = tmp_path / "registry/models/people/aliases/production.json"
    alias.write_text(json.dumps({"version": 1, "previous": []}))
    run = cli("registry", "--url", url, "fetch", "people@production", "--dest", str(dest), "--verify-key", pub)
    assert run.returncode != 0
    assert "older than" in run.stderr and "--rollback" in run.stderr, run.stderr
    assert os.readlink(dest / "current") == "v2"
    # an operator's rollback is explicit and recorded
    back = cli(
        "registry", "--url", url, "fetch", "people@production", "--dest", str(dest), "--verify-key", pub, "--rollback"
    )
    assert back.returncode == 0, back.stderr
    assert os.readlink(dest / "current") == "v1"


def test_keygen_never_overwrites_and_keeps_the_private_key_private(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert private.stat().st_mode & 0o077 == 0
    before = private.read_bytes()
    again = cli("registry", "keygen", "--private", str(private), "--public", str(public))
    assert again.returncode != 0 and "exists" in again.stderr, again.stderr
    assert private.read_bytes() == before


class _Payload:
    """Runs a command when unpickled: what a hostile checkpoint does to whoever loads it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def test_an_unknown_base_checkpoint_is_not_unpickled(tmp_path: Path) -> None:
    """The training server loads its base weights with pickle: only a checkpoint whose SHA-256 is pinned."""
    from footfall.retrain.config import load_retrain_config
    from footfall.retrain.cycle import Cycle, CycleError

    marker = tmp_path / "owned"
    hostile = tmp_path / "yolov5n.pt"
    hostile.write_bytes(pickle.dumps(_Payload(marker)))
    cfg_path = tmp_path / "retrain.yaml"
    cfg_path.write_text(
        json.dumps(
            {
                "retrain": {
                    "registry": f"file://{tmp_path / 'registry'}",
                    "train_datasets": ["store-labels"],
                    "heldout": "pets-heldout:1",
                    "base_weights": str(hostile),
                    "work_dir": str(tmp_path / "work"),
                    "signing": {"allow_unsigned": True},
                }
            }
        )
    )
    cycle = Cycle(load_retrain_config(cfg_path))
    with pytest.raises(CycleError, match="sha256"):
        cycle.resolve_parent()
    assert not marker.exists(), "the hostile checkpoint was unpickled"
