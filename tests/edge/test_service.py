"""The multi-camera service: isolation, watchdog, reconnects, /metrics and /health — real processes."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from footfall.edge.config import validate_config
from footfall.edge.service import EdgeService, RunOptions
from tests.conftest import VTEST
from tests.helpers import free_port
from tests.mjpeg_server import MjpegCamera

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _cfg(tmp: Path, cameras: list[dict], model: Path, port: int) -> object:
    return validate_config(
        {
            "cameras": cameras,
            "model": {"path": str(model), "input_size": 320},
            "tracker": {"name": "bytetrack"},
            "storage": {"db": str(tmp / "c.db")},
            "metrics": {"port": port},
            "watchdog": {
                "backoff_initial_s": 0.2,
                "backoff_max_s": 0.5,
                "max_restarts": 2,
                "reconnect_initial_s": 0.2,
                "reconnect_max_s": 0.5,
            },
        }
    )


LINE = [{"name": "x240", "points": [[240, 0], [240, 360]]}]


def test_cameras_are_isolated_and_streams_reconnect(tmp_path: Path, short_clip: Path, yolov5n_onnx: Path) -> None:
    port = free_port()
    with MjpegCamera(VTEST, fps=15, drop_after=40) as cam:
        cam.down()  # the stream camera starts unreachable
        cfg = _cfg(
            tmp_path,
            [
                {"name": "file", "source": str(short_clip), "lines": LINE},
                {"name": "live", "source": cam.url, "lines": LINE},
                {"name": "broken", "source": str(tmp_path / "missing.avi"), "lines": LINE},
            ],
            yolov5n_onnx,
            port,
        )
        service = EdgeService(cfg, RunOptions(progress=False))
        results: dict = {}
        runner = threading.Thread(target=lambda: results.update(service.run()))
        runner.start()
        try:
            deadline = time.monotonic() + 240
            workers = service._workers
            while time.monotonic() < deadline and not (workers["file"].done and workers["broken"].gave_up):
                time.sleep(0.5)
            assert service._workers["file"].done, "the file camera finished while the others failed"
            assert service._workers["broken"].gave_up, "the broken camera was given up after its restarts"
            assert service._workers["broken"].total_restarts == 2
            status, body = _get(f"http://127.0.0.1:{port}/health")
            assert status == 503 and json.loads(body)["status"] == "degraded"
            cam.up()
            while time.monotonic() < deadline:
                snap = service.snapshot()["live"][0]
                if snap.frames >= 60 and snap.reconnects >= 2:
                    break
                time.sleep(0.5)
            snap = service.snapshot()["live"][0]
            assert snap.frames >= 60 and snap.reconnects >= 2
            status, metrics = _get(f"http://127.0.0.1:{port}/metrics")
            assert status == 200
            assert 'footfall_frames_total{camera="file"} 300.0' in metrics
            assert 'footfall_reconnects_total{camera="live"}' in metrics
            assert 'footfall_worker_restarts_total{camera="broken"} 2.0' in metrics
            assert 'footfall_crossings_total{camera="file",class="person",direction="in",line="x240"}' in metrics
            assert 'footfall_latency_seconds{camera="live",quantile="0.95"}' in metrics
            assert 'footfall_latency_seconds{camera="file"' not in metrics, "a file has no live latency"
            assert 'footfall_detector_share{camera="file"}' in metrics
            health = json.loads(_get(f"http://127.0.0.1:{port}/health")[1])
            assert health["cameras"]["live"]["alive"] is True
            latency = health["cameras"]["live"]["latency_ms"]
            assert 0 < latency["p50"] <= latency["p95"] < 5000
            assert health["model_version"]
        finally:
            service.stop()
            runner.join(60)
    assert not runner.is_alive()
    assert results["file"] is not None and results["file"].finished and results["file"].frames == 300
    assert results["broken"] is None


def renamed_model(src: Path, out: Path, renames: dict[str, str]) -> Path:
    """The same weights with other class names in the ONNX metadata (a model with the product classes)."""
    import onnx

    model = onnx.load(str(src))
    for prop in model.metadata_props:
        if prop.key == "names":
            prop.value = json.dumps([renames.get(n, n) for n in json.loads(prop.value)])
        if prop.key == "model_version":
            prop.value = "renamed"
    onnx.save(model, str(out))
    return out


def test_a_model_with_other_classes_restarts_the_camera_and_counts_with_them(
    tmp_path: Path, yolov5n_onnx: Path
) -> None:
    """The flywheel's first product-class model replaces the COCO 'person' model while the camera runs:
    the camera commits what it counted, starts again with the new classes (no failure, no backoff),
    and its crossings from then on carry them."""
    import os
    import sqlite3

    models = tmp_path / "models"
    (models / "v1").mkdir(parents=True)
    (models / "v2").mkdir()
    (models / "v1" / "model.onnx").write_bytes(yolov5n_onnx.read_bytes())
    renamed_model(yolov5n_onnx, models / "v2" / "model.onnx", {"person": "male_adult", "bicycle": "female_adult"})
    os.symlink("v1", models / "current")
    cfg = _cfg(tmp_path, [{"name": "plaza", "source": str(VTEST), "lines": LINE}], models / "current" / "model.onnx", 0)
    service = EdgeService(cfg, RunOptions(progress=False, stats_interval_s=0.2))
    results: dict = {}
    runner = threading.Thread(target=lambda: results.update(service.run()))
    runner.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and service.snapshot()["plaza"][0].frames < 150:
        time.sleep(0.1)
    os.symlink("v2", models / ".next")
    os.replace(models / ".next", models / "current")  # what 'footfall registry fetch' does
    runner.join(300)
    assert results["plaza"] is not None and results["plaza"].finished
    _, restarts, _ = service.snapshot()["plaza"]
    assert restarts == 0  # a class change is not a failure
    with sqlite3.connect(tmp_path / "c.db") as db:
        classes = {c for (c,) in db.execute("SELECT DISTINCT class FROM events")}
    assert "male_adult" in classes, classes
