"""Release from canary to production after a burn-in on the canary stores; refused → canary rolled back."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from footfall.registry.core import Registry
from footfall.registry.signing import Trust
from footfall.registry.storage import FileStorage
from footfall.retrain.config import ReleaseSettings
from footfall.retrain.release import release
from tests.conftest import VTEST, footfall_cmd
from tests.helpers import free_port


def health_of(version: str, *, status: int = 200, state: str = "ok", fps: float = 20.0) -> Any:
    doc = {"status": state, "model_version": version, "cameras": {"door": {"model_version": version, "fps": fps}}}
    return lambda _url: (status, doc)


@pytest.fixture
def reg(tmp_path: Path, trust: Trust) -> Registry:
    reg = Registry(FileStorage(tmp_path / "registry"), trust)
    model = tmp_path / "model.onnx"
    model.write_bytes(b"weights")
    reg.publish("people", {"model.onnx": model})
    counts = {"metrics": {"sequences": {"pets": {"count_error_pct": 5.0}}}}
    reg.publish(
        "people",
        {"model.onnx": model},
        {**counts, "baseline": {"metrics": {"sequences": {"pets": {"count_error_pct": 4.5}}}}},
    )
    reg.promote("people", 1, "production")
    reg.promote("people", 1, "canary")
    reg.promote("people", 2, "canary")
    return reg


SETTINGS = ReleaseSettings(canary_health=["http://canary/health"], burn_in_s=0, min_fps=5)


def events(reg: Registry) -> list[str]:
    return [e["event"] for e in reg.history("people")]


def test_a_healthy_canary_is_released_to_production(reg: Registry) -> None:
    decision = release(reg, "people", SETTINGS, health=health_of("people:2"))
    assert decision["released"] and decision["previous"] == 1
    assert reg.aliases("people") == {"production": 2, "canary": 2}
    assert events(reg)[-1] == "release"
    # a second release of the same candidate changes nothing
    assert release(reg, "people", SETTINGS, health=health_of("people:2"))["note"].startswith("production already")


@pytest.mark.parametrize(
    ("health", "settings", "reason"),
    [
        (health_of("people:2", status=503, state="degraded"), SETTINGS, "answered 503"),
        (lambda _url: (None, None), SETTINGS, "answered None"),  # the canary store cannot be reached
        (health_of("people:1"), SETTINGS, r"runs \['people:1'\], not people:2"),  # the rollout never reached it
        (health_of("people:2", fps=2.0), SETTINGS, "camera door at 2.0 fps, below 5"),
        (
            health_of("people:2"),
            SETTINGS.model_copy(update={"max_count_error_increase": 0.2}),
            r"count error 4.50 % → 5.00 %",
        ),
    ],
    ids=["unhealthy", "unreachable", "old version", "too slow", "counts worse"],
)
def test_a_canary_that_fails_its_burn_in_is_rolled_back_and_the_reason_recorded(
    reg: Registry, health: Any, settings: ReleaseSettings, reason: str
) -> None:
    decision = release(reg, "people", settings, health=health)
    assert not decision["released"] and decision["canary_rolled_back_to"] == 1
    assert reg.aliases("people") == {"production": 1, "canary": 1}
    refused = [e for e in reg.history("people") if e["event"] == "release-refused"]
    assert len(refused) == 1 and any(__import__("re").search(reason, r) for r in refused[0]["reasons"])


def test_the_burn_in_samples_until_its_end(reg: Registry) -> None:
    seen = []

    def health(url: str) -> tuple[int, dict]:
        seen.append(url)
        return health_of("people:2")(url)

    settings = SETTINGS.model_copy(update={"burn_in_s": 0.3, "check_every_s": 0.05})
    decision = release(reg, "people", settings, health=health, sleep=time.sleep)
    assert decision["released"] and decision["samples"] == len(seen) >= 4


@pytest.mark.slow
def test_release_watches_a_real_canary_store(tmp_path: Path, yolov5n_onnx: Path, trust: Trust) -> None:
    """A real edge service runs the canary version on a live camera; 'footfall retrain release' watches
    its /health over HTTP through the burn-in and releases it to production."""
    from tests.mjpeg_server import MjpegCamera

    url = f"file://{tmp_path / 'registry'}"
    reg = Registry(FileStorage(tmp_path / "registry"), trust)
    for _ in range(2):
        reg.publish("people", {"model.onnx": yolov5n_onnx}, {"class_names": ["person"]})
    reg.promote("people", 1, "production")
    reg.promote("people", 2, "canary")
    reg.fetch(reg_ref("people@canary"), tmp_path / "models")
    port = free_port()
    edge = {
        "cameras": [{"name": "door", "source": "", "lines": [{"name": "x240", "points": [[240, 0], [240, 360]]}]}],
        "model": {"path": str(tmp_path / "models" / "current" / "model.onnx"), "classes": ["person"],
                  "input_size": 320},
        "storage": {"db": str(tmp_path / "edge.db")},
        "metrics": {"port": port},
    }  # fmt: skip
    with MjpegCamera(VTEST, fps=10) as camera:
        edge["cameras"][0]["source"] = camera.url
        (tmp_path / "edge.yaml").write_text(yaml.safe_dump(edge))
        proc = subprocess.Popen(footfall_cmd("edge", "run", "--config", str(tmp_path / "edge.yaml"), "--no-progress"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            keys = {"sign_key": str(trust.sign_key), "verify_key": str(trust.verify_key)}
            retrain = {"registry": url, "model_name": "people", "classes": ["person"], "train_datasets": ["x"],
                       "heldout": "x:1", "signing": keys,
                       "release": {"canary_health": [f"http://127.0.0.1:{port}/health"],
                                   "burn_in_s": 4, "check_every_s": 1, "min_fps": 1}}  # fmt: skip
            (tmp_path / "retrain.yaml").write_text(yaml.safe_dump({"retrain": retrain}))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not _healthy(port, "people:2"):
                time.sleep(1)
            run = subprocess.run(footfall_cmd("retrain", "release", "--config", str(tmp_path / "retrain.yaml")),
                                 capture_output=True, text=True, timeout=300)  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(30)
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    assert reg.aliases("people")["production"] == 2
    assert next(e for e in reg.history("people") if e["event"] == "release")["samples"] >= 4


def reg_ref(text: str) -> Any:
    from footfall.registry.artefacts import Ref

    return Ref.parse(text)


def _healthy(port: int, version: str) -> bool:
    from footfall.retrain.release import fetch_health

    status, doc = fetch_health(f"http://127.0.0.1:{port}/health", timeout_s=2)
    return status == 200 and doc is not None and doc.get("model_version") == version
