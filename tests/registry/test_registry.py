"""The same suite against a folder and a real S3 server over HTTP."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from footfall.registry.artefacts import IntegrityError, Ref, RegistryError
from footfall.registry.core import AliasConflict, Registry
from footfall.registry.signing import generate_keypair


def test_publish_makes_immutable_numbered_versions(reg: Registry, artefacts: dict[str, Path]) -> None:
    m1 = reg.publish("people", artefacts, {"metrics": {"map50": 0.5}, "class_names": ["person"]})
    m2 = reg.publish("people", artefacts, {"metrics": {"map50": 0.6}, "parent_version": 1})
    assert (m1.version, m2.version) == (1, 2)
    assert m1.files["model.onnx"].sha256 == reg.metadata("people", 1).files["model.onnx"].sha256
    assert [v["version"] for v in reg.versions("people")] == [1, 2]
    assert reg.models() == ["people"]
    assert reg.resolve(Ref.parse("people")) == 2
    assert reg.resolve(Ref.parse("people:1")) == 1


def test_concurrent_publishers_never_share_a_number(reg: Registry, artefacts: dict[str, Path]) -> None:
    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.append(reg.publish("people", artefacts).version)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [1, 2, 3, 4, 5, 6]
    assert [v["version"] for v in reg.versions("people")] == [1, 2, 3, 4, 5, 6]


def test_promote_rollback_and_history(reg: Registry, artefacts: dict[str, Path]) -> None:
    for _ in range(3):
        reg.publish("people", artefacts)
    reg.promote("people", 1, "production")
    reg.promote("people", 3, "production", expected=1)
    reg.promote("people", 2, "canary")
    assert reg.aliases("people") == {"production": 3, "canary": 2}
    assert reg.rollback("people", "production")["version"] == 1
    assert reg.resolve(Ref.parse("people@production")) == 1
    with pytest.raises(RegistryError, match="no earlier target"):
        reg.rollback("people", "production")
    events = [(e["event"], e.get("alias"), e["version"]) for e in reg.history("people")]
    assert events[:3] == [("publish", None, 1), ("publish", None, 2), ("publish", None, 3)]
    assert sorted(events[3:]) == sorted(
        [
            ("promote", "production", 1),
            ("promote", "production", 3),
            ("promote", "canary", 2),
            ("rollback", "production", 1),
        ]
    )
    assert all("actor" in e and "time" in e for e in reg.history("people"))


@pytest.mark.parametrize("alias", ["latest", "v3", "Bad Alias"])
def test_reserved_aliases_are_refused(reg: Registry, artefacts: dict[str, Path], alias: str) -> None:
    reg.publish("people", artefacts)
    with pytest.raises(RegistryError, match="reserved or invalid"):
        reg.promote("people", 1, alias)


def test_alias_never_points_at_a_missing_version(reg: Registry, artefacts: dict[str, Path]) -> None:
    reg.publish("people", artefacts)
    with pytest.raises(RegistryError, match="does not exist"):
        reg.promote("people", 7, "production")
    assert reg.aliases("people") == {}


def test_promoting_the_current_target_changes_nothing(reg: Registry, artefacts: dict[str, Path]) -> None:
    reg.publish("people", artefacts)
    reg.promote("people", 1, "production")
    reg.promote("people", 1, "production")
    assert [e["event"] for e in reg.history("people")] == ["publish", "promote"]


def test_stale_expected_version_is_a_conflict(reg: Registry, artefacts: dict[str, Path]) -> None:
    reg.publish("people", artefacts)
    reg.publish("people", artefacts)
    reg.promote("people", 1, "production")
    with pytest.raises(AliasConflict, match="points at 1, not 2"):
        reg.promote("people", 2, "production", expected=2)


def test_concurrent_promotions_one_winner_per_round(reg: Registry, artefacts: dict[str, Path]) -> None:
    n = 8
    for _ in range(n):
        reg.publish("people", artefacts)
    reg.promote("people", 1, "production")
    for _round in range(3):
        wins: list[int] = []
        losses: list[str] = []
        current = reg.resolve(Ref.parse("people@production"))
        contenders = [v for v in range(1, n + 1) if v != current]
        barrier = threading.Barrier(len(contenders))

        def attempt(
            version: int,
            current: int = current,
            barrier: threading.Barrier = barrier,
            wins: list[int] = wins,
            losses: list[str] = losses,
        ) -> None:
            barrier.wait()
            try:
                reg.promote("people", version, "production", expected=current)
                wins.append(version)
            except AliasConflict as exc:
                losses.append(str(exc))

        threads = [threading.Thread(target=attempt, args=(v,)) for v in contenders]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1, (wins, losses)
        assert len(losses) == len(contenders) - 1
        assert reg.resolve(Ref.parse("people@production")) == wins[0]
    promotes = [e for e in reg.history("people") if e["event"] == "promote"]
    assert len(promotes) == 1 + 3, "history holds exactly the winning moves"
    chain = [e["version"] for e in sorted(promotes, key=lambda e: e["time"])]
    assert all(e["from"] == prev for e, prev in zip(sorted(promotes, key=lambda e: e["time"])[1:], chain, strict=False))


def test_fetch_verifies_and_places_atomically(reg: Registry, artefacts: dict[str, Path], tmp_path: Path) -> None:
    reg.publish("people", artefacts)
    reg.promote("people", 1, "production")
    dest = tmp_path / "device" / "models"
    placed = reg.fetch(Ref.parse("people@production"), dest)
    assert placed == dest / "v1"
    assert (dest / "current").resolve() == placed.resolve()
    assert (dest / "current" / "model.onnx").read_bytes() == artefacts["model.onnx"].read_bytes()
    assert json.loads((placed / "metadata.json").read_text())["version"] == 1


def test_a_version_without_the_network_the_device_runs_is_refused_before_anything_is_placed(
    reg: Registry, artefacts: dict[str, Path], tmp_path: Path
) -> None:
    reg.publish("people", artefacts)
    dest = tmp_path / "device" / "models"
    assert "model-int8.onnx" not in artefacts
    with pytest.raises(RegistryError, match=r"people:1 has no model-int8\.onnx.*nothing was placed"):
        reg.fetch(Ref.parse("people:1"), dest, needs=("model-int8.onnx",))
    assert not dest.exists()
    assert reg.fetch(Ref.parse("people:1"), dest, needs=("model.onnx",)) == dest / "v1"


def test_corrupt_artefact_is_refused_and_the_previous_model_kept(
    reg: Registry, artefacts: dict[str, Path], tmp_path: Path
) -> None:
    reg.publish("people", artefacts)
    reg.publish("people", artefacts)
    dest = tmp_path / "device"
    reg.fetch(Ref.parse("people:1"), dest)
    before = (dest / "current" / "model.onnx").read_bytes()
    # flip one byte of the stored artefact of version 2
    key = f"{Registry._vdir('people', 2)}/artefacts/model.onnx"
    data, _ = reg.storage.get(key)
    reg.storage.put(key, data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    with pytest.raises(
        IntegrityError, match=r"artefact model.onnx: sha256 [0-9a-f]{64} does not match the published [0-9a-f]{64}"
    ):
        reg.fetch(Ref.parse("people:2"), dest)
    assert (dest / "current").resolve().name == "v1"
    assert (dest / "current" / "model.onnx").read_bytes() == before
    assert not (dest / "v2").exists()
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]


def test_re_placing_a_damaged_copy_of_the_running_version_never_leaves_current_pointing_at_nothing(
    reg: Registry, artefacts: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The running model's folder was damaged on the device (a bad sector, a hand edit): fetching the same
    version again replaces it. A model watcher reads ``current/model.onnx`` at any moment: at every rename
    of the replacement it must find a whole model there (before: the old folder was moved aside, then the
    new one moved in — ``current`` pointed at nothing in between)."""
    import os

    reg.publish("people", artefacts)
    dest = tmp_path / "device"
    reg.fetch(Ref.parse("people:1"), dest)
    (dest / "v1" / "model.onnx").write_bytes(b"damaged")
    good = artefacts["model.onnx"].read_bytes()
    seen: list[bytes | None] = []
    rename = os.replace

    def watched(src: object, dst: object) -> None:
        rename(src, dst)  # type: ignore[arg-type]
        model = dest / "current" / "model.onnx"
        seen.append(model.read_bytes() if model.exists() else None)

    monkeypatch.setattr(os, "replace", watched)
    assert reg.fetch(Ref.parse("people:1"), dest) == dest / "v1"
    monkeypatch.undo()
    assert (dest / "current").resolve() == (dest / "v1").resolve()
    assert (dest / "current" / "model.onnx").read_bytes() == good
    assert None not in seen, seen
    assert seen[-1] == good
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]  # no bridge or old copy left


def test_signed_manifest(reg: Registry, artefacts: dict[str, Path], tmp_path: Path) -> None:
    generate_keypair(tmp_path / "other.pem", tmp_path / "other.pub")
    reg.publish("people", artefacts)
    assert reg.fetch(Ref.parse("people:1"), tmp_path / "d1").is_dir()
    other = Registry(reg.storage, replace(reg.trust, verify_key=tmp_path / "other.pub"))
    with pytest.raises(IntegrityError, match="signature"):
        other.fetch(Ref.parse("people:1"), tmp_path / "d2")
    assert not (tmp_path / "d2" / "current").exists()


@pytest.mark.parametrize("text", ["people", "people@production", "people:12", "people:v12"])
def test_ref_parse(text: str) -> None:
    ref = Ref.parse(text)
    assert ref.name == "people"
