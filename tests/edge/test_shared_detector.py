"""One detector for every camera of a device (``footfall.edge.detectors.shared``), on the real model and
real video: the same detections as a camera's own detector, batches that really form, and failures
(a stalled camera, a dead detector, a stranger, a bad model) that cost no camera its counting."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import AuthenticationError, Client
from pathlib import Path

import numpy as np
import pytest

from footfall.edge.config import ModelConfig, validate_config
from footfall.edge.detectors import ModelFileError, create_detector
from footfall.edge.detectors.onnx import OnnxDetector, OnnxModel
from footfall.edge.detectors.shared import (
    DetectorLink,
    DetectorServer,
    InferRequest,
    ServerAddress,
    SharedDetector,
    serve_detector,
)
from footfall.edge.service import EdgeService, RunOptions
from footfall.edge.types import Detections
from tests.conftest import VTEST
from tests.helpers import video_frames, wait_for

CLASSES = ["person"]


def _model(path: Path, **kw: object) -> ModelConfig:
    return ModelConfig(path=path, classes=CLASSES, input_size=480, **kw)  # type: ignore[arg-type]


@pytest.fixture
def server(yolov5n_onnx: Path) -> Iterator[DetectorServer]:
    """A shared detector on a thread of this process (so its batches can be read); the protocol is the
    one a service's detector process speaks."""
    address = ServerAddress.private()
    stop = threading.Event()
    srv = DetectorServer(address, _model(yolov5n_onnx, batch_max=4, batch_wait_ms=30, threads=1), stop)
    ready = threading.Event()
    thread = threading.Thread(target=srv.serve, args=(ready,), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield srv
    stop.set()
    thread.join(5)
    address.remove()


def _same(a: Detections, b: Detections) -> None:
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.xyxy, b.xyxy)
    np.testing.assert_array_equal(a.confidence, b.confidence)
    np.testing.assert_array_equal(a.class_id, b.class_id)
    assert a.class_probs is not None and b.class_probs is not None
    np.testing.assert_array_equal(a.class_probs, b.class_probs)


def test_every_camera_gets_the_detections_its_own_detector_would_find(
    server: DetectorServer, yolov5n_onnx: Path
) -> None:
    """Three cameras send PETS frames at once; their pictures run in batches, and each detection is
    exactly (not within a tolerance) what the camera's own ONNX detector finds on that frame."""
    cfg = _model(yolov5n_onnx)
    assert OnnxModel(yolov5n_onnx).max_batch is None, "the exported model takes a batch of any size"
    own = OnnxDetector.from_config(cfg, CLASSES, None)
    frames = {cam: list(video_frames(VTEST, start=100 * cam, count=10, step=3)) for cam in range(3)}
    found: dict[int, list[Detections]] = {}
    start = threading.Barrier(3)

    def camera(cam: int) -> None:
        det = SharedDetector(cfg, CLASSES, None, DetectorLink(server.address, timeout_s=30))
        start.wait()
        found[cam] = [det.detect(f) for f in frames[cam]]
        assert det.link.shared and det.link.fallbacks == 0

    threads = [threading.Thread(target=camera, args=(cam,)) for cam in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(found) == [0, 1, 2]
    for cam, frame_list in frames.items():
        for frame, shared in zip(frame_list, found[cam], strict=True):
            _same(shared, own.detect(frame))
    assert sum(len(d) for dets in found.values() for d in dets) > 100  # people were found, not nothing
    assert max(server.batch_sizes) >= 2, f"pictures of several cameras ran together: {server.batch_sizes}"
    assert sum(k * n for k, n in server.batch_sizes.items()) == 30


def test_a_camera_that_stops_halfway_through_a_picture_holds_up_nobody(
    server: DetectorServer, yolov5n_onnx: Path
) -> None:
    cfg = _model(yolov5n_onnx)
    det = SharedDetector(cfg, CLASSES, None, DetectorLink(server.address, timeout_s=5))
    frame = next(video_frames(VTEST, start=200, count=1))
    stalled = Client(server.address.path, family="AF_UNIX", authkey=server.address.authkey)
    stalled.send(InferRequest(det.sha256, (352, 480, 3), 0.25))  # ...and its picture never follows
    t0 = time.monotonic()
    for _ in range(5):
        assert len(det.detect(frame)) > 0
    assert det.link.shared and det.link.fallbacks == 0
    assert time.monotonic() - t0 < 5, "the other camera was served while one hung mid-request"
    stalled.close()


def test_a_peer_without_the_key_is_refused_and_the_cameras_go_on(server: DetectorServer, yolov5n_onnx: Path) -> None:
    with pytest.raises(AuthenticationError):
        Client(server.address.path, family="AF_UNIX", authkey=b"not the key")
    det = SharedDetector(_model(yolov5n_onnx), CLASSES, None, DetectorLink(server.address, timeout_s=5))
    assert len(det.detect(next(video_frames(VTEST, start=200, count=1)))) > 0 and det.link.shared
    assert oct(os.stat(os.path.dirname(server.address.path)).st_mode & 0o777) == "0o700"


def test_a_model_the_cameras_own_load_would_refuse_is_refused(server: DetectorServer, yolov5n_onnx: Path) -> None:
    link = DetectorLink(server.address, timeout_s=5)
    with pytest.raises(ModelFileError, match="sha256"):
        SharedDetector(_model(yolov5n_onnx, sha256="0" * 64), CLASSES, None, link)
    assert link.fallbacks == 0  # a bad model is not an outage: the model watcher keeps the running one


def _start_process(address: ServerAddress, cfg: ModelConfig) -> tuple[mp.process.BaseProcess, object]:
    ctx = mp.get_context("spawn")
    stop, ready = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=serve_detector, args=(cfg, address, stop, ready), daemon=True)
    proc.start()
    assert ready.wait(60)
    return proc, stop


def test_when_the_shared_detector_dies_the_camera_counts_on_with_its_own_copy_then_goes_back(
    yolov5n_onnx: Path,
) -> None:
    cfg = _model(yolov5n_onnx)
    own = OnnxDetector.from_config(cfg, CLASSES, None)
    frames = list(video_frames(VTEST, start=300, count=6))
    address = ServerAddress.private()
    proc, _ = _start_process(address, cfg)
    try:
        det = SharedDetector(cfg, CLASSES, None, DetectorLink(address, timeout_s=5, retry_s=1.0))
        _same(det.detect(frames[0]), own.detect(frames[0]))
        assert det.link.shared
        proc.kill()
        proc.join()
        _same(det.detect(frames[1]), own.detect(frames[1]))  # this very frame, on the camera's own copy
        assert not det.link.shared and det.link.fallbacks == 1
        _same(det.detect(frames[2]), own.detect(frames[2]))
        proc, _ = _start_process(address, cfg)  # the service restarts it
        time.sleep(1.1)
        for frame in frames[3:]:
            _same(det.detect(frame), own.detect(frame))
        assert det.link.shared and det.link.fallbacks == 1, "back on the shared detector"
    finally:
        proc.kill()
        proc.join()
        address.remove()


def _events(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return sorted(con.execute("SELECT camera, line, track_id, frame, class, direction FROM events"))


@pytest.mark.slow
def test_a_device_counts_the_same_with_one_shared_detector_even_when_it_is_killed(
    tmp_path: Path, short_clip: Path, yolov5n_onnx: Path
) -> None:
    """Two cameras on the real service: counted with each its own detector, then with the device's
    shared detector that is killed mid-run. Same crossings, frame for frame; nothing counted twice."""
    line = [{"name": "x240", "points": [[240, 0], [240, 360]]}]

    def run(name: str, sharing: str, kill_after: int | None = None) -> tuple[list[tuple], dict]:
        cfg = validate_config(
            {
                "cameras": [
                    {"name": "a", "source": str(short_clip), "lines": line},
                    {"name": "b", "source": str(VTEST), "lines": line},
                ],
                "model": {"path": str(yolov5n_onnx), "input_size": 320, "sharing": sharing},
                "tracker": {"name": "bytetrack"},
                "storage": {"db": str(tmp_path / f"{name}.db")},
                "watchdog": {"backoff_initial_s": 0.5, "backoff_max_s": 1.0},
            }
        )
        service = EdgeService(cfg, RunOptions(progress=False, stats_interval_s=0.2))
        results: dict = {}
        runner = threading.Thread(target=lambda: results.update(service.run()))
        runner.start()
        if kill_after is not None:
            wait_for(lambda: service.snapshot()["b"][0].frames >= kill_after, 120, "frames before the kill")
            assert service._detector is not None
            service._detector.process.kill()
        runner.join(600)
        assert results["a"].finished and results["b"].finished
        return _events(tmp_path / f"{name}.db"), {n: s for n, (s, _, _) in service.snapshot().items()}

    own, own_stats = run("own", "camera")
    shared, stats = run("shared", "device", kill_after=100)
    assert len(own) > 10
    assert shared == own
    assert own_stats["a"].detector_placement == "own"
    assert max(s.detector_fallbacks for s in stats.values()) >= 1, "the kill was felt, and survived"


def test_sharing_is_checked_and_chosen_by_the_config(yolov5n_onnx: Path) -> None:
    from footfall.edge.config import ConfigError
    from tests.conftest import YOLOV5N_PT

    camera = [{"name": "a", "source": "x.avi", "lines": [{"name": "l", "points": [[0, 0], [9, 9]]}]}]

    with pytest.raises(ConfigError, match=r"model\.sharing"):
        validate_config({"cameras": camera, "model": {"path": str(YOLOV5N_PT), "sharing": "device"}})
    assert ModelConfig(path=yolov5n_onnx).shared(2) and not ModelConfig(path=yolov5n_onnx).shared(1)
    assert not ModelConfig(path=YOLOV5N_PT).shared(8)
    assert not ModelConfig(path=yolov5n_onnx, sharing="camera").shared(8)
    # where the detector runs does not change what is counted: a replay still deduplicates
    one = validate_config({"cameras": camera, "model": {"sharing": "device"}})
    two = validate_config({"cameras": camera, "model": {"sharing": "camera"}})
    assert one.fingerprint(one.cameras[0]) == two.fingerprint(two.cameras[0])
    assert isinstance(create_detector(_model(yolov5n_onnx)), OnnxDetector)


def test_a_camera_whose_model_was_unloaded_meanwhile_loads_it_again(server: DetectorServer, yolov5n_onnx: Path) -> None:
    """The server unloads a model no camera asked for in a minute (after a hot swap); a camera that was
    away that long is answered 'not loaded', counts on with its own copy, and loads it again."""
    cfg = _model(yolov5n_onnx)
    own = OnnxDetector.from_config(cfg, CLASSES, None)
    det = SharedDetector(cfg, CLASSES, None, DetectorLink(server.address, timeout_s=5, retry_s=0.2))
    frames = list(video_frames(VTEST, start=400, count=3))
    with server._lock:
        server._models.clear()  # what _unload_idle does after IDLE_MODEL_S
    _same(det.detect(frames[0]), own.detect(frames[0]))
    assert not det.link.shared and det.link.fallbacks == 1
    time.sleep(0.3)
    for frame in frames[1:]:
        _same(det.detect(frame), own.detect(frame))
    assert det.link.shared and len(server._models) == 1
