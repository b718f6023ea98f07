"""Supply chain: the three environments are exactly their hash-checked locks (requirements/*.lock, written
by scripts/lock.sh, installed by scripts/setup.sh with --require-hashes), and the locks agree with what
pyproject.toml and the pinned tools declare."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

LOCKS = ROOT / "requirements"
ENVS = {"edge.lock": ".venv", "train.lock": ".venv-train", "labelstudio.lock": ".venv-labelstudio"}
EDGE_EXTRAS = ["tracking", "export", "registry", "retrain", "labeling", "dashboard", "central", "dev"]


def parse_lock(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name → (version, sha256 hashes) of a lock written by scripts/lock.sh."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s\\]+)", line)
        if m:
            current = canonicalize_name(m.group(1).split("[")[0])
            pins[current] = (m.group(2), [])
        for h in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            assert current is not None, f"{path.name}: a hash before any pin"
            pins[current][1].append(h)
    return pins


def _satisfied(req: Requirement, pins: dict[str, tuple[str, list[str]]]) -> bool:
    pin = pins.get(canonicalize_name(req.name))
    return pin is not None and req.specifier.contains(pin[0], prereleases=True)


@pytest.mark.parametrize("lock", [*ENVS, "pip.lock", "device.lock"])
def test_every_pin_is_exact_and_hashed(lock: str) -> None:
    pins = parse_lock(LOCKS / lock)
    assert pins, f"{lock} is empty"
    unhashed = [name for name, (_, hashes) in pins.items() if not hashes]
    assert not unhashed, f"{lock}: no hash for {unhashed}"


def test_the_edge_lock_satisfies_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [
        *project["dependencies"],
        *(r for extra in EDGE_EXTRAS for r in project["optional-dependencies"][extra]),
    ]
    pins = parse_lock(LOCKS / "edge.lock")
    missing = [r for r in map(Requirement, declared) if not _satisfied(r, pins)]
    assert not missing, (
        f"pyproject.toml asks for {missing}, which requirements/edge.lock does not satisfy: run scripts/lock.sh"
    )


def test_the_device_lock_is_the_tested_versions_without_torch() -> None:
    """What a store's device installs (scripts/wheelhouse.sh): .venv's versions, footfall's runtime, no torch."""
    device, edge = parse_lock(LOCKS / "device.lock"), parse_lock(LOCKS / "edge.lock")
    differ = {n: (v, edge.get(n, ("absent",))[0]) for n, (v, _) in device.items() if edge.get(n, ("",))[0] != v}
    assert not differ, f"device.lock pins versions .venv does not test: {differ}; run scripts/lock.sh"
    heavy = sorted(n for n in device if n in {"torch", "torchvision", "boxmot", "triton"} or n.startswith("nvidia-"))
    assert not heavy, f"the device installs {heavy}: the default tracker needs none of them"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["registry"]]
    declared += project["optional-dependencies"]["dashboard"]
    missing = [r for r in map(Requirement, declared) if not _satisfied(r, device)]
    assert not missing, f"device.lock does not satisfy {missing}: run scripts/lock.sh"


def test_the_label_studio_client_gets_what_it_declares_but_headless_opencv() -> None:
    """label-studio-sdk is installed with --no-deps (its opencv-python-headless would replace cv2):
    everything else it needs must be in the lock."""
    from importlib.metadata import requires

    pins = parse_lock(LOCKS / "edge.lock")
    assert pins["label-studio-sdk"][0] == "2.1.2"
    needed = [Requirement(r) for r in requires("label-studio-sdk") or []]
    needed = [r for r in needed if not r.marker or r.marker.evaluate({"extra": ""})]
    missing = [str(r) for r in needed if r.name != "opencv-python-headless" and not _satisfied(r, pins)]
    assert not missing, missing
    assert "opencv-python-headless" not in pins and "opencv-python" in pins


def test_the_pinned_tools_and_their_traps() -> None:
    edge, train, studio = (parse_lock(LOCKS / n) for n in ENVS)
    for pins in (edge, train):
        assert (pins["torch"][0], pins["torchvision"][0]) == ("2.14.1", "0.29.1")
        assert pins["yolov5"][0] == "7.0.14"
    assert Requirement("huggingface-hub<0.25").specifier.contains(train["huggingface-hub"][0])
    assert Requirement("huggingface-hub>=1.7.1").specifier.contains(edge["huggingface-hub"][0])  # boxmot 25
    assert Requirement("setuptools<81").specifier.contains(train["setuptools"][0])
    assert Requirement("python-multipart>=0.0.18").specifier.contains(edge["python-multipart"][0])
    assert studio["label-studio"][0] == "1.23.2"


@pytest.mark.parametrize(("lock", "venv"), list(ENVS.items()))
def test_each_environment_is_exactly_its_lock(lock: str, venv: str) -> None:
    """What scripts/setup.sh installed is the lock: nothing more, nothing less, no other version."""
    python = ROOT / venv / "bin" / "python"
    listing = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m, json; "
         "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    installed = {canonicalize_name(k): str(Version(v)) for k, v in json.loads(listing).items()}
    installed.pop("footfall", None)
    expected = {name: str(Version(version)) for name, (version, _) in parse_lock(LOCKS / lock).items()}
    expected["pip"] = parse_lock(LOCKS / "pip.lock")["pip"][0]
    assert installed == expected, {
        "not in the lock": sorted(set(installed) - set(expected)),
        "missing": sorted(set(expected) - set(installed)),
        "other version": sorted(n for n in set(installed) & set(expected) if installed[n] != expected[n]),
    }
