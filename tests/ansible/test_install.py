"""A bare device gets footfall from the control machine's wheelhouse (real ansible-playbook, offline
install with hash checks), and the installed command counts people on the real video without torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.ansible.test_rollout import playbook, recap
from tests.conftest import ROOT, VTEST

pytestmark = pytest.mark.slow
SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    env = {**os.environ, "PYTHON": sys.executable}  # the wheels and footfall's build: this environment's pip
    subprocess.run(["bash", "scripts/wheelhouse.sh", str(out)], cwd=ROOT, check=True, env=env)
    return out


def _inventory(tmp: Path, wheelhouse: Path) -> Path:
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "footfall_edge_root": str(tmp / "store"),
        "footfall_edge_create_user": False,
        "footfall_edge_service_manager": "none",
        "footfall_edge_wheelhouse": str(wheelhouse),
        "footfall_edge_python": str(SYSTEM_PYTHON if SYSTEM_PYTHON.exists() else sys.executable),
        "footfall_edge_classes": ["person"],
        "footfall_edge_cameras": [
            {"name": "door", "source": str(VTEST), "lines": [{"name": "x240", "points": [[240, 0], [240, 360]]}]}
        ],
    }
    inventory = tmp / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"stores": {"hosts": {"store-b": host}}}}}))
    return inventory


def test_a_bare_device_is_installed_from_the_wheelhouse_and_counts(
    tmp_path: Path, wheelhouse: Path, yolov5n_onnx: Path
) -> None:
    inventory = _inventory(tmp_path, wheelhouse)
    first = playbook(inventory, "site.yml")
    assert first.returncode == 0, first.stdout[-3000:]
    venv = tmp_path / "store" / "opt" / "footfall" / ".venv"
    footfall = venv / "bin" / "footfall"
    assert footfall.is_file()
    again = playbook(inventory, "site.yml")
    assert again.returncode == 0 and recap(again.stdout)["store-b"]["changed"] == 0, again.stdout[-2000:]

    # the installed command, not this checkout's, counts on the real video with the real model
    summary = tmp_path / "summary.json"
    run = subprocess.run(
        [str(footfall), "edge", "run", "--source", str(VTEST), "--line", "x240=240,0,240,360", "--max-frames", "150",
         "--model", str(yolov5n_onnx), "--db", str(tmp_path / "c.db"), "--summary-json", str(summary),
         "--no-progress"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    counted = json.loads(summary.read_text())["lines"]["x240"]
    assert counted["in"] + counted["out"] >= 2
    probe = "import importlib.util as u; print(u.find_spec('torch'), u.find_spec('boxmot'))"
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["None", "None"], "a store's device runs without torch"
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import footfall; print(footfall.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(venv)), f"footfall is the installed wheel, not this checkout: {where}"


def test_a_wheelhouse_for_another_machine_is_refused(tmp_path: Path, wheelhouse: Path) -> None:
    other = tmp_path / "wheelhouse-other"
    other.mkdir()
    shutil.copy(wheelhouse / "device.lock", other / "device.lock")
    (other / "PLATFORM").write_text("riscv64\n")
    result = playbook(_inventory(tmp_path, other), "site.yml")
    assert result.returncode != 0
    assert "holds wheels for riscv64" in result.stdout and "scripts/wheelhouse.sh OUT" in result.stdout
    assert not (tmp_path / "store" / "opt" / "footfall" / ".venv").exists()
