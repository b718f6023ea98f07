"""The flywheel, end to end, twice: store footage in, a better model running in every store out.

Real parts only: two stores set up by ``ansible-playbook`` run ``footfall edge run`` on live cameras
(the PETS clip's frames 1–600, served as MJPEG), capture and upload to an S3 server (moto over HTTP);
the scheduler's jobs harvest the night into a real Label Studio server, where a simulated annotator
answers every task from the ground truth (boxes from ``gt.txt``, classes from ``identity_classes.csv``;
an ``unsure`` person gets the class the cue leans to), export a dataset version and retrain from the
production model in ``.venv-train``; the candidate reaches the canary store through the rollout
playbook, is released to production after a burn-in on the canary's ``/health``, and reaches the other
store. The held-out set (frames 601–795) never took part in training or checkpoint selection. Then a
second turn starts from the model the stores now run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from footfall.harvest.collect import list_items
from footfall.labeling.contract import yolo_to_ls
from footfall.labeling.mot_import import MotAnnotator
from footfall.labeling.studio import Studio
from footfall.registry.artefacts import Ref
from footfall.registry.core import Registry
from footfall.registry.datasets import DatasetStore
from footfall.registry.signing import Trust
from footfall.registry.storage import FileStorage, open_storage
from footfall.retrain.release import fetch_health
from footfall.scheduler.service import JobRunner, Ledger, load_scheduler_config
from tests.ansible.test_rollout import VENV_BIN, playbook
from tests.conftest import DATA, PETS_GT, VTEST, YOLOV5N_PT, footfall_cmd
from tests.helpers import free_port
from tests.labelstudio_server import label_studio
from tests.mjpeg_server import MjpegCamera
from tests.s3_server import create_bucket

pytestmark = pytest.mark.slow

IDENTITIES = DATA / "mot" / "PETS09-S2L1" / "identity_classes.csv"
CLASSES = ["child", "female_adult", "male_adult"]
STORES = {"store-a": ("canary", 0), "store-b": ("wave1", 300)}  # group, first video frame of its camera
W, H = 480, 360
CAPTURES = "s3://footfall-captures/fleet"


def _wait(what: str, check: Any, timeout_s: float = 180) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def _thumb(image: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (48, 36), interpolation=cv2.INTER_AREA).astype(float)


class Annotator:
    """Answers a task as a careful person would: every ground-truth person of that frame, with the
    class of that identity. The frame is found by matching the captured picture against the video's."""

    def __init__(self) -> None:
        cap = cv2.VideoCapture(str(VTEST))
        self.thumbs = []
        for _ in range(600):  # frames 1–600: what the stores film; 601–795 are the held-out set
            ok, frame = cap.read()
            assert ok
            self.thumbs.append(_thumb(frame))
        cap.release()
        self.truth = MotAnnotator(PETS_GT, IDENTITIES, CLASSES)
        self.done: set[int] = set()
        self.frames: list[int] = []

    def frame_of(self, image: np.ndarray) -> int:
        err = [float(np.abs(_thumb(image) - t).mean()) for t in self.thumbs]
        best = int(np.argmin(err))
        assert err[best] < 4.0, f"a captured picture matches no frame of the clip (error {err[best]:.1f})"
        return best + 1  # MOT frames are 1-based

    def result(self, frame: int) -> list[dict[str, Any]]:
        out = []
        for box in self.truth.boxes(frame, W, H):
            lx, ly, lw, lh = yolo_to_ls(box.cx, box.cy, box.w, box.h)
            value = {"x": lx, "y": ly, "width": lw, "height": lh, "rotation": 0, "rectanglelabels": [CLASSES[box.cls]]}
            out.append({"from_name": "label", "to_name": "image", "type": "rectanglelabels",
                        "original_width": W, "original_height": H, "value": value})  # fmt: skip
        return out

    def annotate(self, studio: Studio, project: int, files_root: Path) -> list[str]:
        """Submit an annotation for every task not done yet; the item ids annotated."""
        items = []
        for task in studio.tasks(project):
            if task["id"] in self.done:
                continue
            image = cv2.imread(str(files_root / task["data"]["path"]))
            frame = self.frame_of(image)
            studio.client.annotations.create(id=task["id"], result=self.result(frame))
            self.done.add(task["id"])
            self.frames.append(frame)
            items.append(task["data"]["item_id"])
        return items


@pytest.fixture
def fleet(tmp_path: Path, s3_endpoint: str, yolov5n_onnx: Path, trust: Trust) -> Iterator[dict[str, Any]]:
    """Two stores installed by site.yml, each a real edge service on its own live camera, capturing to S3,
    running production = people:1 (the COCO yolov5n, with its .pt to fine-tune from)."""
    create_bucket(s3_endpoint, "footfall-captures")
    reg = Registry(FileStorage(tmp_path / "registry"), trust)  # the training server's keys
    reg.publish("people", {"model.onnx": yolov5n_onnx, "model.pt": YOLOV5N_PT}, {"class_names": ["person"]})
    reg.promote("people", 1, "production")
    with ExitStack() as stack:
        hosts: dict[str, Any] = {"canary": {"hosts": {}}, "wave1": {"hosts": {}}}
        ports = {}
        for host, (group, first) in STORES.items():
            camera = stack.enter_context(MjpegCamera(VTEST, fps=12, first=first, count=300))
            ports[host] = free_port()
            hosts[group]["hosts"][host] = {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "footfall_edge_root": str(tmp_path / host),
                "footfall_edge_create_user": False,
                "footfall_edge_service_manager": "none",
                "footfall_edge_metrics_port": ports[host],
                "footfall_edge_input_size": 480,
                "footfall_edge_conf_threshold": 0.4,
                "footfall_edge_capture_enabled": True,
                "footfall_edge_capture_max_per_minute": 30,
                "footfall_edge_sync_url": CAPTURES,
                "footfall_edge_sync_every_s": 5,
                "footfall_edge_cameras": [
                    {
                        "name": "plaza",
                        "source": camera.url,
                        "lines": [{"name": "x240", "points": [[240, 0], [240, 360]]}],
                    }
                ],
                "footfall_model_root": str(tmp_path / host),
                "footfall_model_command": str(VENV_BIN / "footfall"),
                "footfall_model_registry_url": f"file://{tmp_path / 'registry'}",
                "footfall_model_service_manager": "none",
                "footfall_model_public_key": str(trust.verify_key),  # the stores refuse what it did not sign
                "footfall_model_health_url": f"http://127.0.0.1:{ports[host]}/health",
                "footfall_model_health_retries": 90,
                "footfall_model_health_delay": 1,
            }
        inventory = tmp_path / "hosts.yml"
        inventory.write_text(yaml.safe_dump({"all": {"children": {"stores": {"children": hosts}}}}))
        installed = playbook(inventory, "site.yml")
        assert installed.returncode == 0, installed.stdout[-3000:]
        procs = []
        for host in STORES:
            models = tmp_path / host / "var/lib/footfall/models"
            subprocess.run(footfall_cmd("registry", "--url", f"file://{tmp_path / 'registry'}", "fetch", "people:1",
                                        "--dest", str(models), "--verify-key", str(trust.verify_key)),
                           check=True, capture_output=True)  # fmt: skip
            log = open(tmp_path / f"{host}.log", "wb")  # noqa: SIM115 (closed by the stack)
            stack.callback(log.close)
            procs.append(
                subprocess.Popen(
                    footfall_cmd(
                        "edge", "run", "--config", str(tmp_path / host / "etc/footfall/edge.yaml"), "--no-progress"
                    ),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

        def stop() -> None:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(30)

        stack.callback(stop)
        for host, port in ports.items():
            _wait(f"{host} running people:1", lambda p=port: version_at(p) == "people:1")
        yield {"reg": reg, "inventory": inventory, "ports": ports, "tmp": tmp_path, "trust": trust}


def version_at(port: int) -> str | None:
    status, doc = fetch_health(f"http://127.0.0.1:{port}/health", timeout_s=2)
    return doc.get("model_version") if status == 200 and doc else None


def sha256_at(port: int) -> set[str]:
    _, doc = fetch_health(f"http://127.0.0.1:{port}/health", timeout_s=2)
    return {c["model_sha256"] for c in (doc or {}).get("cameras", {}).values()}


def write_configs(tmp: Path, ls: Any, canary_port: int, trust: Trust) -> Path:
    """harvest.yaml, retrain.yaml and scheduler.yaml of the training server, agreeing as configs/ do."""
    registry = f"file://{tmp / 'registry'}"
    harvest = {
        "captures": CAPTURES,
        "classes": CLASSES,
        "class_map": {"person": "male_adult"},
        "budget": 20,
        "per_store": 10,
        "report_dir": str(tmp / "harvest"),
        "studio": {"url": ls.url, "project": "footfall people", "files_root": str(ls.files_root)},
    }
    retrain = {
        "registry": registry,
        "model_name": "people",
        "classes": CLASSES,
        "train_datasets": ["store-labels"],
        "heldout": "pets-heldout:1",
        "base_weights": str(YOLOV5N_PT),
        "work_dir": str(tmp / "work"),
        "signing": {"sign_key": str(trust.sign_key), "verify_key": str(trust.verify_key)},
        "train": {"epochs": 6, "imgsz": 320, "batch": 8, "workers": 0},
        "evaluation": {
            "input_size": 480,
            "conf_threshold": 0.4,
            "latency_images": 5,
            "device_config": str(tmp / "store-a" / "etc/footfall/edge.yaml"),  # what the stores run
            "baseline_class_map": {"person": "male_adult"},
            "sequences": [
                {
                    "name": "pets",
                    "video": str(VTEST),
                    "gt": str(PETS_GT),
                    "identity_classes": str(IDENTITIES),
                    "max_frames": 300,
                    "lines": {"x240": [240, 0, 240, 360], "y200": [0, 200, 480, 200]},
                }
            ],
        },
        "release": {
            "canary_health": [f"http://127.0.0.1:{canary_port}/health"],
            "burn_in_s": 5,
            "check_every_s": 1,
            "min_fps": 1,
        },
    }
    (tmp / "harvest.yaml").write_text(yaml.safe_dump({"harvest": harvest}))
    (tmp / "retrain.yaml").write_text(yaml.safe_dump({"retrain": retrain}))
    jobs = [
        {"name": "nightly-harvest", "kind": "harvest", "config": "harvest.yaml", "cron": "30 1 * * *"},
        {"name": "nightly-export", "kind": "export", "config": "harvest.yaml", "dataset": "store-labels",
         "sign_key": str(trust.sign_key),
         "registry": registry, "cron": "0 23 * * *"},
        {"name": "weekly-retrain", "kind": "retrain", "config": "retrain.yaml", "cron": "0 2 * * 0"},
        {"name": "release", "kind": "release", "config": "retrain.yaml", "cron": "0 12 * * *"},
    ]  # fmt: skip
    path = tmp / "scheduler.yaml"
    path.write_text(yaml.safe_dump({"scheduler": {"db": str(tmp / "scheduler.db"), "jobs": jobs}}))
    return path


def test_store_footage_becomes_the_model_every_store_runs_twice(
    fleet: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    reg: Registry = fleet["reg"]
    captures = open_storage(CAPTURES)
    trust: Trust = fleet["trust"]
    datasets = DatasetStore(FileStorage(tmp_path / "registry"), trust)
    annotator = Annotator()
    timings: dict[str, float] = {}

    def stage(name: str) -> None:
        timings[name] = round(time.monotonic() - started, 1)

    def uploaded(version: str | None = None, since: float = 0) -> dict[str, int]:
        items = list_items(captures, since, 4e9)
        return {s: sum(i.store == s and (version is None or i.meta["model_version"] == version) for i in items)
                for s in STORES}  # fmt: skip

    _wait("both stores to upload captures", lambda: min(uploaded().values()) >= 20)
    stage("captured")

    with label_studio() as ls:
        monkeypatch.setenv("LABEL_STUDIO_TOKEN", ls.token)
        settings = load_scheduler_config(write_configs(tmp_path, ls, fleet["ports"]["store-a"], trust))
        runner = JobRunner(settings, Ledger(settings.db, "flywheel-test"))
        studio = Studio(ls.url, ls.token)
        # the slot of tonight's jobs: the harvest slot covers the night before its day, i.e. today
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        slot = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 1, 30, tzinfo=UTC).timestamp()

        # -- turn 1 ---------------------------------------------------------------------------------
        assert runner("nightly-harvest", slot) == 0, (tmp_path / "harvest").iterdir()
        project = studio.ensure_project("footfall people", CLASSES)
        labelled = annotator.annotate(studio, project, ls.files_root)
        assert len(labelled) >= 10  # budget 20, at most 10 a store, near-duplicates dropped
        stage("harvested and labelled")
        held = subprocess.run(
            footfall_cmd("labeling", "import-mot", str(VTEST), str(PETS_GT), "--identity-classes", str(IDENTITIES),
                         "--val-from-frame", "601", "--split", "val", "--name", "pets-heldout",
                         "--registry", f"file://{tmp_path / 'registry'}", "--sign-key", str(trust.sign_key)),
            capture_output=True, text=True, timeout=300)  # fmt: skip
        assert held.returncode == 0, held.stderr[-2000:]
        assert runner("nightly-export", slot + 3600) == 0
        labels = datasets.manifest(Ref.parse("store-labels"))
        assert labels.sources["items"] == sorted(labelled)  # lineage: the captured items it was built from
        assert set(labels.sources["stores"]) == set(STORES)
        assert runner("weekly-retrain", slot + 2 * 3600) == 0
        stage("retrained")
        candidate = reg.aliases("people").get("canary")
        assert candidate == 2, f"the gate did not accept the first candidate: {reg.metadata('people', 2).extra['gate']}"
        meta = reg.metadata("people", 2).to_dict()
        assert meta["lineage"]["parent"] == "people:1"
        assert meta.get("signature"), "the stores only deploy what the training server signed"
        assert [d["dataset"] for d in meta["lineage"]["train_datasets"]] == [labels.ref]
        assert meta["metrics"]["heldout"]["dataset"] == "pets-heldout:1"

        canary = playbook(fleet["inventory"], "rollout.yml", "--limit", "canary", "-e", "footfall_model_alias=canary")
        assert canary.returncode == 0, canary.stdout[-3000:]
        assert version_at(fleet["ports"]["store-a"]) == "people:2"
        assert version_at(fleet["ports"]["store-b"]) == "people:1"  # only the canary
        assert runner("release", slot + 3 * 3600) == 0
        assert reg.aliases("people")["production"] == 2
        waves = playbook(fleet["inventory"], "rollout.yml")
        assert waves.returncode == 0, waves.stdout[-3000:]
        stage("released to every store")
        onnx_sha = reg.metadata("people", 2).files["model.onnx"].sha256
        for port in fleet["ports"].values():
            assert version_at(port) == "people:2" and sha256_at(port) == {onnx_sha}
        released_at = time.time()
        _wait("captures tagged with the new model from both stores",
              lambda: min(uploaded("people:2", released_at).values()) >= 5)  # fmt: skip
        stage("new captures tagged")

        # -- turn 2: from the model the stores run ----------------------------------------------------
        again = subprocess.run(
            footfall_cmd("harvest", "run", "--config", str(tmp_path / "harvest.yaml"),
                         "--since", datetime.fromtimestamp(released_at, UTC).isoformat(),
                         "--until", datetime.fromtimestamp(time.time() + 60, UTC).isoformat()),
            capture_output=True, text=True, timeout=600)  # fmt: skip
        assert again.returncode == 0, again.stderr[-2000:]
        second = annotator.annotate(studio, project, ls.files_root)
        assert len(second) >= 2  # the cameras loop 25 s of video: later frames are often near-duplicates
        tasks = {t["data"]["item_id"]: t for t in studio.tasks(project)}
        # the second turn's pre-annotations come from the model the stores run now
        assert {tasks[i]["predictions"][0]["model_version"] for i in second} == {"people:2"}
        assert {tasks[i]["predictions"][0]["model_version"] for i in labelled} == {"people:1"}
        assert runner("nightly-export", slot + 4 * 3600) == 0
        labels2 = datasets.manifest(Ref.parse("store-labels"))
        assert labels2.version == 2 and set(second) <= set(labels2.sources["items"])
        assert runner("weekly-retrain", slot + 5 * 3600) == 0
        stage("second turn retrained")
        third = reg.versions("people")[-1]["version"]
        assert third == 3
        meta3 = reg.metadata("people", 3).to_dict()
        assert meta3["lineage"]["parent"] == "people:2"  # the second turn starts from the production model

    report = {
        "seconds": round(time.monotonic() - started, 1),
        "stages": timings,
        "production": {"before": 1, "after": reg.aliases("people")["production"]},
        "dataset": labels.ref,
        "items": len(labels.sources["items"]),
        "candidate_heldout": {k: meta["metrics"][k] for k in ("map50", "map50_95")},
        "candidate_per_class_ap50": {c: v["ap50"] for c, v in meta["metrics"]["per_class"].items()},
        "parent_heldout": {k: meta["baseline"]["metrics"][k] for k in ("map50", "map50_95")},
        "parent_per_class_ap50": {c: v["ap50"] for c, v in meta["baseline"]["metrics"]["per_class"].items()},
        "counts": {s: v["lines"] for s, v in meta["metrics"]["sequences"].items()},
        "counts_by_class": {
            line: v["by_class"] for s in meta["metrics"]["sequences"].values() for line, v in s["lines"].items()
        },
        "turn2": {"dataset": labels2.ref, "candidate": f"people:{third}", "accepted": meta3["gate"]["accepted"]},
    }
    print(json.dumps(report, indent=1, default=str))
    (Path(os.environ.get("FOOTFALL_FLYWHEEL_REPORT", tmp_path / "flywheel.json"))).write_text(
        json.dumps(report, indent=1, default=str)
    )
