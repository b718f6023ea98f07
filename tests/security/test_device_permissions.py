"""A store installed by ``playbooks/site.yml`` runs as the systemd unit's user, not as root: that user
must be able to write its count database, and no other local user may read the config (it holds the
dashboard token and camera passwords).

Real ansible-playbook with a real system user created by the role; the service is started exactly as
the rendered unit says (its ``User=`` and ``ExecStart=``), with ``runuser`` in place of systemd, which
does not run in this sandbox.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from footfall.registry.core import Registry
from footfall.registry.signing import Trust
from footfall.registry.storage import FileStorage
from tests.ansible.test_rollout import playbook
from tests.conftest import VTEST, footfall_cmd

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="creates a system user: needs root (CI runs as root)"),
]


@pytest.fixture
def device(yolov5n_onnx: Path, trust: Trust) -> Iterator[dict]:
    user = f"ffsvc{uuid.uuid4().hex[:6]}"
    root = Path(tempfile.mkdtemp(prefix="footfall-device-", dir="/tmp"))
    root.chmod(0o755)  # a device's / is traversable by every user
    # This machine's Python lives under /root (pyenv), which only root may enter; a device's venv uses
    # the system Python. For the test's duration other users may traverse /root (not list it).
    home = Path("/root") if Path(os.path.realpath(sys.executable)).is_relative_to("/root") else None
    home_mode = stat.S_IMODE(home.stat().st_mode) if home else None
    if home is not None and home_mode is not None:
        home.chmod(home_mode | 0o001)
    try:
        reg = Registry(FileStorage(root / "srv-registry"), trust)
        reg.publish("people", {"model.onnx": yolov5n_onnx}, {"class_names": ["person"]})
        host = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "footfall_edge_root": str(root),
            "footfall_edge_user": user,
            "footfall_edge_create_user": True,
            "footfall_edge_service_manager": "none",
            "footfall_edge_venv": str(Path(sys.executable).parent.parent),
            "footfall_edge_metrics_port": 0,
            "footfall_edge_classes": ["person"],
            "footfall_edge_input_size": 320,
            "footfall_edge_cameras": [
                {"name": "door", "source": str(VTEST), "lines": [{"name": "x240", "points": [[240, 0], [240, 360]]}]}
            ],
        }
        inventory = root / "hosts.yml"
        inventory.write_text(yaml.safe_dump({"all": {"children": {"stores": {"hosts": {"store-p": host}}}}}))
        installed = playbook(inventory, "site.yml")
        assert installed.returncode == 0, installed.stdout[-3000:]
        subprocess.run(
            footfall_cmd("registry", "--url", f"file://{root / 'srv-registry'}", "fetch", "people:1",
                         "--dest", str(root / "var/lib/footfall/models"), "--verify-key", str(trust.verify_key)),
            check=True, capture_output=True,
        )  # fmt: skip
        yield {"root": root, "user": user}
    finally:
        if home is not None and home_mode is not None:
            home.chmod(home_mode)
        subprocess.run(["userdel", user], capture_output=True)
        subprocess.run(["groupdel", user], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _unit(root: Path) -> dict[str, str]:
    text = (root / "etc/systemd/system/footfall-edge.service").read_text()
    return dict(re.findall(r"^(\w+)=(.*)$", text, re.M))


def test_the_service_user_can_write_its_database(device: dict) -> None:
    root, unit = device["root"], _unit(device["root"])
    assert unit["User"] == device["user"]
    unit_file = root / "etc/systemd/system/footfall-edge.service"
    verify = subprocess.run(["systemd-analyze", "verify", str(unit_file)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    argv = unit["ExecStart"].split()
    argv[argv.index("--config") + 1] = str(root / "etc/footfall/edge.yaml")  # the unit's path, under the test root
    run = subprocess.run(
        ["runuser", "-u", unit["User"], "--", *argv, "--max-frames", "200"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd="/",
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    db = root / "var/lib/footfall/footfall.db"
    assert pwd.getpwuid(db.stat().st_uid).pw_name == device["user"]
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1


def test_other_local_users_cannot_read_the_config(device: dict) -> None:
    cfg = device["root"] / "etc/footfall/edge.yaml"
    st = cfg.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640, oct(st.st_mode)
    assert st.st_uid == 0 and grp.getgrgid(st.st_gid).gr_name == device["user"]
    peek = subprocess.run(["runuser", "-u", "nobody", "--", "cat", str(cfg)], capture_output=True, text=True)
    assert peek.returncode != 0 and "Permission denied" in peek.stderr
    state = device["root"] / "var/lib/footfall"
    assert stat.S_IMODE(state.stat().st_mode) & 0o007 == 0, "counts and captures are the store's, not everyone's"
