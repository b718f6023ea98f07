"""Real ansible-playbook runs against two local test stores (local connection, one root folder each).

Each store runs a real edge service on a live local camera; the playbooks deploy models from a real
registry. Shown: first run changes, second changes nothing, a corrupted artefact is refused, a model
that does not come up healthy is rolled back, and status reports the right version everywhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from footfall.central.db import StoreInfo, add_device, connect, migrate, put_store
from footfall.central.pgserver import PgServer
from footfall.registry.artefacts import Ref
from footfall.registry.core import Registry
from footfall.registry.signing import Trust
from footfall.registry.storage import FileStorage
from tests.conftest import VTEST, footfall_cmd
from tests.helpers import free_port
from tests.mjpeg_server import MjpegCamera

pytestmark = pytest.mark.slow

ANSIBLE = Path(__file__).resolve().parents[2] / "ansible"
VENV_BIN = Path(sys.executable).parent
HOSTS = {"store-a": "canary", "store-b": "wave1"}


def _health(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())
    except OSError:
        return {}


def playbook(inventory: Path, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(inventory.parent / ".ansible-tmp"),
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
    }
    return subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(ANSIBLE / "playbooks" / name), *extra],
        capture_output=True,
        text=True,
        env=env,
        cwd=ANSIBLE,
    )


def recap(out: str) -> dict[str, dict[str, int]]:
    rows = {}
    for host, stats in re.findall(r"^(store-\w+)\s+:\s+(.*)$", out, re.M):
        rows[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", stats)}
    return rows


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, yolov5n_onnx: Path, trust: Trust, pg_server: PgServer
) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("fleet")
    # the chain's central store: each store is in its catalogue with a device token for site.yml
    dsn = pg_server.create_db("fleet")
    migrate(dsn)
    with connect(dsn) as con:
        central_tokens = {}
        for host in HOSTS:
            put_store(con, StoreInfo(host, region="test", entrances=("door/x240",)))
            central_tokens[host] = add_device(con, host, f"{host}-dev")
    central_port = free_port()
    central = subprocess.Popen(
        footfall_cmd("central", "serve", "--dsn", dsn, "--port", str(central_port)),
        stdout=(tmp / "central.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    reg_url = f"file://{tmp / 'registry'}"
    reg = Registry(FileStorage(tmp / "registry"), trust)  # the training server: it signs what it publishes
    for _ in range(2):
        reg.publish("people", {"model.onnx": yolov5n_onnx}, {"class_names": ["person"]})
    reg.promote("people", 1, "production")
    camera = MjpegCamera(VTEST, fps=10).__enter__()
    hosts: dict = {"all": {"children": {"stores": {"children": {"canary": {"hosts": {}}, "wave1": {"hosts": {}}}}}}}
    procs = {}
    ports = {}
    for host, group in HOSTS.items():
        root = tmp / host
        ports[host] = free_port()
        hosts["all"]["children"]["stores"]["children"][group]["hosts"][host] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "footfall_edge_root": str(root),
            "footfall_edge_create_user": False,
            "footfall_edge_service_manager": "none",
            "footfall_edge_metrics_port": ports[host],
            "footfall_edge_classes": ["person"],
            # the flywheel's input, as the example inventory has it: capture on, uploaded to a bucket
            "footfall_edge_capture_enabled": True,
            "footfall_edge_capture_max_per_minute": 60,
            "footfall_edge_sync_url": f"file://{tmp / 'bucket'}",
            "footfall_edge_sync_every_s": 3,
            "footfall_edge_central_url": f"http://127.0.0.1:{central_port}",
            "footfall_edge_central_device": f"{host}-dev",
            "footfall_edge_central_token": central_tokens[host],
            "footfall_edge_cameras": [
                {"name": "door", "source": camera.url, "lines": [{"name": "x240", "points": [[240, 0], [240, 360]]}]}
            ],
            "footfall_model_root": str(root),
            "footfall_model_command": str(VENV_BIN / "footfall"),
            "footfall_model_registry_url": reg_url,
            "footfall_model_service_manager": "none",
            "footfall_model_public_key": str(trust.verify_key),
            "footfall_model_health_url": f"http://127.0.0.1:{ports[host]}/health",
            "footfall_model_health_retries": 60,
            "footfall_model_health_delay": 1,
        }
    inventory = tmp / "hosts.yml"
    inventory.write_text(yaml.safe_dump(hosts))
    installed = playbook(inventory, "site.yml")
    assert installed.returncode == 0, installed.stdout[-3000:]
    for host in HOSTS:  # first provisioning of a store: its initial model, then the service starts
        models = tmp / host / "var/lib/footfall/models"
        subprocess.run(
            footfall_cmd(
                "registry",
                "--url",
                reg_url,
                "fetch",
                "people:1",
                "--dest",
                str(models),
                "--verify-key",
                str(trust.verify_key),
            ),
            check=True,
            capture_output=True,
        )
        procs[host] = subprocess.Popen(
            footfall_cmd("edge", "run", "--config", str(tmp / host / "etc/footfall/edge.yaml"), "--no-progress"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(
        _health(p).get("model_version") == "people:1" for p in ports.values()
    ):
        time.sleep(1)
    assert all(_health(p).get("model_version") == "people:1" for p in ports.values())
    yield {"tmp": tmp, "reg": reg, "inventory": inventory, "ports": ports, "reg_url": reg_url, "hosts": hosts,
           "central_dsn": dsn}  # fmt: skip
    central.terminate()
    for p in procs.values():
        p.terminate()
    for p in procs.values():
        p.wait(30)
    camera.__exit__()
    shutil.rmtree(tmp / ".ansible-tmp", ignore_errors=True)


def _running(fleet: dict) -> dict[str, str]:
    return {h: _health(p).get("model_version", "down") for h, p in fleet["ports"].items()}


def _link(fleet: dict, host: str) -> str:
    return os.readlink(fleet["tmp"] / host / "var/lib/footfall/models/current")


def test_rollout_then_idempotent(fleet: dict) -> None:
    fleet["reg"].promote("people", 2, "production")
    first = playbook(fleet["inventory"], "rollout.yml")
    assert first.returncode == 0, first.stdout[-4000:]
    assert all(r["changed"] > 0 for r in recap(first.stdout).values()), first.stdout[-2000:]
    assert _running(fleet) == {"store-a": "people:2", "store-b": "people:2"}
    again = playbook(fleet["inventory"], "rollout.yml")
    assert again.returncode == 0
    assert all(r["changed"] == 0 for r in recap(again.stdout).values()), again.stdout[-2000:]


def test_corrupted_artefact_is_refused_and_the_wave_stops(fleet: dict, yolov5n_onnx: Path) -> None:
    reg = fleet["reg"]
    meta = reg.publish("people", {"model.onnx": yolov5n_onnx})
    key = f"{Registry._vdir('people', meta.version)}/artefacts/model.onnx"
    data, _ = reg.storage.get(key)
    reg.storage.put(key, data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:])
    reg.promote("people", meta.version, "production")
    run = playbook(fleet["inventory"], "rollout.yml")
    assert run.returncode != 0
    assert "does not match the published" in run.stdout
    assert "store-b" not in recap(run.stdout) or recap(run.stdout)["store-b"]["changed"] == 0
    assert _running(fleet) == {"store-a": "people:2", "store-b": "people:2"}
    assert _link(fleet, "store-a") == _link(fleet, "store-b") == "v2"


def test_unhealthy_model_is_rolled_back(fleet: dict, yolov5n_onnx: Path) -> None:
    reg = fleet["reg"]
    broken = fleet["tmp"] / "broken.onnx"
    broken.write_bytes(yolov5n_onnx.read_bytes()[:40_000])
    meta = reg.publish("people", {"model.onnx": broken})
    reg.promote("people", meta.version, "production")
    run = playbook(fleet["inventory"], "rollout.yml")
    assert run.returncode != 0
    assert f"people:{meta.version} was not deployed on store-a" in run.stdout
    assert _link(fleet, "store-a") == "v2", "the canary switched back"
    assert _link(fleet, "store-b") == "v2", "the wave never started"
    assert _running(fleet) == {"store-a": "people:2", "store-b": "people:2"}


def test_an_unsigned_model_is_refused_by_the_canary(fleet: dict, yolov5n_onnx: Path) -> None:
    """A bucket writer publishes a model of their own and points production at it: no store runs it."""
    reg = fleet["reg"]
    unsigned = Registry(reg.storage, Trust(allow_unsigned=True)).publish("people", {"model.onnx": yolov5n_onnx})
    reg.promote("people", unsigned.version, "production")
    run = playbook(fleet["inventory"], "rollout.yml")
    assert run.returncode != 0
    assert f"people:{unsigned.version} is not signed" in run.stdout, run.stdout[-3000:]
    assert not (fleet["tmp"] / "store-a/var/lib/footfall/models" / f"v{unsigned.version}").exists()
    assert _running(fleet) == {"store-a": "people:2", "store-b": "people:2"}


def test_an_alias_moved_back_is_refused_unless_rolled_back(fleet: dict) -> None:
    """Aliases are not signed: pointing production at an older signed version is a downgrade."""
    reg = fleet["reg"]
    reg.promote("people", 1, "production")
    run = playbook(fleet["inventory"], "rollout.yml")
    assert run.returncode != 0 and "refusing a downgrade" in run.stdout, run.stdout[-3000:]
    assert _running(fleet) == {"store-a": "people:2", "store-b": "people:2"}
    reg.promote("people", 2, "production")


def test_status_and_rollback(fleet: dict, yolov5n_onnx: Path) -> None:
    status = playbook(fleet["inventory"], "status.yml")
    assert status.returncode == 0, status.stdout[-3000:]
    assert re.search(r"store-a \| people:2 \|\s*v2 \| ok", status.stdout), status.stdout[-2000:]
    assert re.search(r"store-b \| people:2 \|\s*v2 \| ok", status.stdout)
    # a newer version goes out; the operator's rollback (recorded in the registry) brings 2 back
    reg = fleet["reg"]
    newer = reg.publish("people", {"model.onnx": yolov5n_onnx}, {"class_names": ["person"]})
    reg.promote("people", newer.version, "production")
    assert playbook(fleet["inventory"], "rollout.yml").returncode == 0
    assert _running(fleet) == {"store-a": f"people:{newer.version}", "store-b": f"people:{newer.version}"}
    back = playbook(fleet["inventory"], "rollback.yml")
    assert back.returncode == 0, back.stdout[-3000:]
    assert reg.aliases("people")["production"] == 2
    assert reg.history("people")[-1]["event"] == "rollback"
    assert _running(fleet) == {"store-a": "people:2", "store-b": "people:2"}


def test_an_installed_store_captures_and_uploads_tagged_with_its_model(fleet: dict) -> None:
    """A store set up by site.yml feeds the flywheel: its captures reach the bucket under its store id,
    tagged with the model version it runs."""
    from footfall.harvest.collect import list_items
    from footfall.registry.storage import open_storage

    bucket = open_storage(f"file://{fleet['tmp'] / 'bucket'}")
    running = _running(fleet)
    deadline = time.monotonic() + 90
    items: list = []
    latest: dict = {}
    while time.monotonic() < deadline:  # the stores just swapped back to 2: wait for frames seen since
        items = list_items(bucket, 0, 4e9)
        latest = {i.store: i.meta["model_version"] for i in sorted(items, key=lambda i: i.ts)}
        if latest == running:
            break
        time.sleep(2)
    assert {i.store for i in items} == set(HOSTS), [i.key for i in items]
    for item in items:
        assert item.meta["model_version"].startswith("people:"), item.meta["model_version"]
    assert latest == running


def test_an_installed_store_ships_its_counts_to_the_central_store(fleet: dict) -> None:
    """site.yml configures the shipper: each store's rendered config ships its real counts to the chain's
    central store, which then holds exactly the device's crossings; the shipper unit is installed hardened."""
    import psycopg

    from footfall.edge.store import CountStore

    for host in HOSTS:
        root = fleet["tmp"] / host
        unit = (root / "etc/systemd/system/footfall-ship.service").read_text()
        assert "edge ship --config /etc/footfall/edge.yaml --every" in unit and "ProtectSystem=strict" in unit
        deadline = time.monotonic() + 60  # the live camera: wait for a crossing to ship
        while time.monotonic() < deadline:
            with CountStore(root / "var/lib/footfall/footfall.db") as s:
                if s.events():
                    break
            time.sleep(1)
        ship = subprocess.run(
            footfall_cmd("edge", "ship", "--config", str(root / "etc/footfall/edge.yaml")),
            capture_output=True,
            text=True,
        )
        assert ship.returncode == 0, ship.stderr[-2000:]
        with CountStore(root / "var/lib/footfall/footfall.db") as s:
            stored = {(c, se, ln, t, f) for c, se, ln, t, f, *_ in s.events()}
            waiting = {c.key for c in s.outbox(10**6)}  # after the events: the running edge may add more
        with psycopg.connect(fleet["central_dsn"]) as con:
            central_keys = set(
                con.execute(
                    "SELECT camera, session, line, track_id, frame FROM crossings WHERE store = %s", (host,)
                ).fetchall()
            )
        assert stored and central_keys == stored - waiting


def test_every_wave_gets_the_version_the_canary_ran(fleet: dict, yolov5n_onnx: Path) -> None:
    """The alias moves while the rollout runs (here: the moment the wave store runs its first command):
    the wave still deploys the version resolved once, before the canary."""
    reg, tmp = fleet["reg"], fleet["tmp"]
    newer = reg.publish("people", {"model.onnx": yolov5n_onnx}, {"class_names": ["person"]})
    other = reg.publish("people", {"model.onnx": yolov5n_onnx}, {"class_names": ["person"]})
    reg.promote("people", newer.version, "production")
    mover = tmp / "move-alias-then-footfall"
    mover.write_text(
        f"#!/bin/sh\n{VENV_BIN / 'footfall'} registry --url {fleet['reg_url']} promote people {other.version} "
        f'--alias production >/dev/null\nexec {VENV_BIN / "footfall"} "$@"\n'
    )
    mover.chmod(0o755)
    hosts = json.loads(json.dumps(fleet["hosts"]))
    hosts["all"]["children"]["stores"]["children"]["wave1"]["hosts"]["store-b"]["footfall_model_command"] = str(mover)
    inventory = tmp / "hosts-moving.yml"
    inventory.write_text(yaml.safe_dump(hosts))
    run = playbook(inventory, "rollout.yml")
    assert run.returncode == 0, run.stdout[-3000:]
    assert reg.aliases("people")["production"] == other.version, "the alias did move mid-rollout"
    assert _running(fleet) == {"store-a": f"people:{newer.version}", "store-b": f"people:{newer.version}"}


def test_syntax_and_lint() -> None:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"), "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    for name in ("site.yml", "rollout.yml", "rollback.yml", "status.yml"):
        proc = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "--syntax-check", f"playbooks/{name}"],
            cwd=ANSIBLE,
            capture_output=True,
            text=True,
            env=env,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    lint = subprocess.run(
        [str(VENV_BIN / "ansible-lint"), "--offline", "playbooks", "roles"],
        cwd=ANSIBLE,
        capture_output=True,
        text=True,
        env=env,
    )
    assert lint.returncode == 0, lint.stdout[-4000:] + lint.stderr[-2000:]


class _DegradedHealth:
    """A store's /health that reports the version its models/current holds: degraded (503) on
    ``bad``, e.g. a camera the new model cannot keep up with, and ok on any other."""

    def __init__(self, models: Path, bad: str) -> None:
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                version = f"people:{os.readlink(models / 'current').removeprefix('v')}"
                degraded = version == bad
                body = json.dumps({"status": "degraded" if degraded else "ok", "model_version": version}).encode()
                self.send_response(503 if degraded else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_degraded_store_on_the_new_version_is_not_deployed(tmp_path: Path, trust: Trust) -> None:
    """The health gate wants 200 'ok': a store that runs the new version but reports degraded is rolled
    back and fails, so the waves do not go on."""
    reg = Registry(FileStorage(tmp_path / "registry"), trust)
    model = tmp_path / "model.onnx"
    model.write_bytes(b"onnx bytes")
    for _ in range(2):
        reg.publish("people", {"model.onnx": model}, {"class_names": ["person"]})
    reg.promote("people", 2, "production")
    models = tmp_path / "store/var/lib/footfall/models"
    reg.fetch(Ref("people", version=1), models)
    health = _DegradedHealth(models, bad="people:2")
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "footfall_model_root": str(tmp_path / "store"),
        "footfall_model_command": str(VENV_BIN / "footfall"),
        "footfall_model_registry_url": f"file://{tmp_path / 'registry'}",
        "footfall_model_service_manager": "none",
        "footfall_model_public_key": str(trust.verify_key),
        "footfall_model_health_url": health.url,
        "footfall_model_health_retries": 3,
        "footfall_model_health_delay": 1,
    }
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump({"all": {"children": {"stores": {"children": {"canary": {"hosts": {"store-d": host}}}}}}})
    )
    try:
        run = playbook(inventory, "rollout.yml")
    finally:
        health.close()
    assert run.returncode != 0, run.stdout[-3000:]
    assert "people:2 was not deployed on store-d" in run.stdout, run.stdout[-3000:]
    assert os.readlink(models / "current") == "v1"


def test_an_int8_fleet_refuses_a_version_without_its_network(fleet: dict, yolov5n_onnx: Path) -> None:
    """Stores set to run the INT8 network (footfall_edge_model_file) are never switched to a version that
    lacks it: the canary's fetch refuses it before placing anything, and the wave stops."""
    from footfall.registry.artefacts import MODEL_FILES

    defaults = yaml.safe_load((ANSIBLE / "roles/footfall_edge/defaults/main.yml").read_text())
    assert defaults["footfall_edge_model_file"] == MODEL_FILES["fp32"]  # the role and the registry agree
    reg = fleet["reg"]
    before = _running(fleet), _link(fleet, "store-a"), _link(fleet, "store-b")
    meta = reg.publish("people", {"model.onnx": yolov5n_onnx})  # FP32 only
    reg.promote("people", meta.version, "production")
    run = playbook(fleet["inventory"], "rollout.yml", "-e", f"footfall_edge_model_file={MODEL_FILES['int8']}")
    assert run.returncode != 0
    assert f"people:{meta.version} has no model-int8.onnx" in run.stdout, run.stdout[-3000:]
    assert not (fleet["tmp"] / "store-a/var/lib/footfall/models" / f"v{meta.version}").exists()
    assert (_running(fleet), _link(fleet, "store-a"), _link(fleet, "store-b")) == before
