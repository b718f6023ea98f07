"""Cameras as stores have them: live H.264 over RTSP from a real GStreamer RTSP server.

A server that goes away and comes back, a stream that stalls while its connection stays open, a
resolution change mid-stream and across a reconnect; and a device with two cameras where one
stalls while the other keeps its pace.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from footfall.edge.sources import Frame, VideoSource
from tests.conftest import ROOT, VTEST, footfall_cmd
from tests.helpers import free_port, wait_for
from tests.rtsp import RtspServer, write_clip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("rtsp-clips")
    return {
        "a": write_clip(VTEST, d, 0, 40),  # 480×360, as recorded
        "b": write_clip(VTEST, d, 40, 40, (640, 480)),  # the next 40 frames as a 640×480 profile sends them
    }


class Reader:
    """Frames of a source collected by a thread (a read blocks for up to the source's timeout)."""

    def __init__(self, source: VideoSource) -> None:
        self.source = source
        self.frames: list[Frame] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for frame in self.source.frames():
            self.frames.append(frame)

    def wait(self, count: int, timeout: float) -> None:
        wait_for(lambda: len(self.frames) >= count, timeout, f"{count} frames (have {len(self.frames)})")

    def close(self) -> None:
        self.source.stop.set()
        self.thread.join(15)


@pytest.fixture
def reader_of() -> Iterator:
    made: list[Reader] = []

    def make(url: str) -> Reader:
        made.append(Reader(VideoSource(url, backoff_initial_s=0.2, backoff_max_s=1.0)))
        return made[-1]

    yield make
    for r in made:
        r.close()


def test_a_live_h264_stream_is_read_at_its_pace(tmp_path: Path, clips: dict, reader_of) -> None:
    with RtspServer(tmp_path, {"cam": [clips["a"]]}) as server:
        reader = reader_of(server.url("cam"))
        reader.wait(60, 40)
        assert {f.image.shape for f in reader.frames[:60]} == {(360, 480, 3)}
        assert [f.index for f in reader.frames[:60]] == list(range(60))
        # the first frames come at once (what the decoder buffered while it probed the stream), then
        # at the camera's pace: 20 frames at 10 fps take 2 s
        assert reader.frames[59].ts - reader.frames[40].ts > 1.5
        original = cv2.VideoCapture(str(VTEST)).read()[1]
        assert np.abs(reader.frames[0].image.astype(int) - original).mean() < 8, "the clip's picture, H.264-coded"


def test_a_camera_that_goes_away_is_reconnected(tmp_path: Path, clips: dict, reader_of) -> None:
    server = RtspServer(tmp_path, {"cam": [clips["a"]]}).start()
    try:
        reader = reader_of(server.url("cam"))
        reader.wait(10, 30)
        server.stop()
        time.sleep(2)
        before = len(reader.frames)
        server.start()  # same port, as a camera that rebooted
        reader.wait(before + 10, 40)
        assert reader.source.reconnects >= 1
        indices = [f.index for f in reader.frames]
        assert indices == sorted(set(indices)), "frame indices go on increasing across the reconnect"
    finally:
        server.stop()


def test_a_stalled_camera_is_dropped_and_picked_up_again(tmp_path: Path, clips: dict, reader_of) -> None:
    with RtspServer(tmp_path, {"cam": [clips["a"]]}) as server:
        reader = reader_of(server.url("cam"))
        reader.wait(10, 30)
        server.stall("cam")
        time.sleep(9)  # the connection stays open, nothing arrives: the 5 s read timeout ends it
        stalled_at = len(reader.frames)
        assert reader.source.reconnects == 0 or stalled_at < 10 + 20
        server.stall("cam", False)
        reader.wait(stalled_at + 10, 40)
        assert reader.source.reconnects >= 1, "the stalled stream was dropped and opened again"


def test_a_resolution_change_keeps_the_picture_the_lines_were_drawn_on(tmp_path: Path, clips: dict, reader_of) -> None:
    server = RtspServer(tmp_path, {"cam": [clips["a"], clips["b"]]}).start()
    try:
        reader = reader_of(server.url("cam"))
        reader.wait(60, 40)  # 40 frames at 480×360, then the stream switches to 640×480 (a new SPS)
        assert {f.image.shape for f in reader.frames[:60]} == {(360, 480, 3)}
        # the camera is reconfigured while away: it comes back at 640×480 only
        server.stop()
        before = len(reader.frames)
        server.start({"cam": [clips["b"]]})
        reader.wait(before + 10, 40)
        after = reader.frames[before:]
        assert {f.image.shape for f in after} == {(360, 480, 3)}, "scaled to the size the lines were drawn on"
        assert reader.source.size_changes == 1
        cap = cv2.VideoCapture(str(VTEST))
        for _ in range(40):
            cap.grab()
        expected = cap.read()[1]
        assert np.abs(after[0].image.astype(int) - expected).mean() < 10, "the same scene, scaled, not cropped"
    finally:
        server.stop()


def test_a_stalled_camera_does_not_slow_the_others(tmp_path: Path, clips: dict, yolov5n_onnx: Path) -> None:
    """Two cameras on one device; one stalls for 10 s. The other keeps delivering at its pace."""
    port = free_port()
    with RtspServer(tmp_path, {"front": [clips["a"]], "back": [clips["a"]]}, fps=5) as server:
        cfg = {
            "cameras": [
                {
                    "name": name,
                    "source": server.url(name),
                    "lines": [{"name": "x240", "points": [[240, 0], [240, 360]]}],
                }
                for name in ("front", "back")
            ],
            "model": {"path": str(yolov5n_onnx), "classes": ["person"], "class_map": {"person": "person"}},
            "storage": {"db": str(tmp_path / "counts.db")},
            "metrics": {"port": port},
            "watchdog": {"reconnect_initial_s": 0.2, "reconnect_max_s": 1.0},
        }
        path = tmp_path / "edge.yaml"
        path.write_text(yaml.safe_dump(cfg))
        proc = subprocess.Popen(
            footfall_cmd("edge", "run", "--config", str(path), "--no-progress"),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def health() -> dict:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                return json.load(resp)

        def frames(cam: str) -> int:
            try:
                return int(health()["cameras"][cam]["frames"])
            except (OSError, KeyError):
                return 0

        try:
            wait_for(lambda: frames("front") > 10 and frames("back") > 10, 90, "both cameras delivering")
            server.stall("front")
            time.sleep(2)
            back0, t0 = frames("back"), time.monotonic()
            time.sleep(10)
            back_rate = (frames("back") - back0) / (time.monotonic() - t0)
            stalled = health()["cameras"]["front"]
            server.stall("front", False)
            assert back_rate > 3.0, f"the healthy camera fell to {back_rate:.1f} fps of its 5"
            assert stalled["seconds_since_frame"] is None or stalled["seconds_since_frame"] > 5
            front0 = frames("front")
            wait_for(lambda: frames("front") > front0 + 10, 60, "the stalled camera back")
            assert health()["cameras"]["front"]["reconnects"] >= 1
        finally:
            proc.terminate()
            proc.wait(30)
