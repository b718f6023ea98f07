"""Sources against a real local MJPEG/HTTP camera that drops and comes back."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest

from footfall.edge.sources import SourceError, VideoSource, source_kind
from tests.conftest import VTEST
from tests.mjpeg_server import MjpegCamera

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("0", "usb"),
        ("/dev/video2", "usb"),
        ("rtsp://cam/1", "stream"),
        ("http://x/y.mjpg", "stream"),
        ("/data/a.mp4", "file"),
    ],
)
def test_source_kind(uri: str, kind: str) -> None:
    assert source_kind(uri) == kind


def test_dropped_stream_reconnects_and_goes_on() -> None:
    with MjpegCamera(VTEST, fps=50, drop_after=25) as cam:
        src = VideoSource(cam.url, backoff_initial_s=0.1)
        indices = []
        for frame in src.frames():
            indices.append(frame.index)
            if len(indices) == 80:
                break
    assert src.reconnects >= 2
    assert indices == list(range(80)), "frame indices continue across reconnects"


def test_stream_down_is_retried_with_backoff_until_it_returns() -> None:
    with MjpegCamera(VTEST, fps=50) as cam:
        cam.down()
        src = VideoSource(cam.url, backoff_initial_s=0.2, backoff_max_s=0.8)
        threading.Timer(2.5, cam.up).start()
        t0 = time.monotonic()
        first = next(iter(src.frames()))
        waited = time.monotonic() - t0
    assert first.index == 0
    assert waited >= 2.0
    assert src.reconnects == 1


def test_stop_interrupts_the_backoff() -> None:
    with MjpegCamera(VTEST) as cam:
        cam.down()
        stop = threading.Event()
        src = VideoSource(cam.url, backoff_initial_s=30, stop=stop)
        threading.Timer(0.5, stop.set).start()
        t0 = time.monotonic()
        assert list(src.frames()) == []
        assert time.monotonic() - t0 < 10


def test_file_source_ends_cleanly_and_resumes_frame_exactly(short_clip: Path) -> None:
    src = VideoSource(str(short_clip), start_ts=1000.0)
    frames = list(src.frames())
    assert len(frames) == 300
    assert frames[10].ts == pytest.approx(1000.0 + 10 / src.fps)
    again = list(VideoSource(str(short_clip), start_ts=1000.0).frames(skip=290))
    assert [f.index for f in again] == list(range(290, 300))
    assert (again[0].image == frames[290].image).all()


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"does not exist\. Fix: check cameras"):
        VideoSource(str(tmp_path / "nope.mp4"))


class _Flaky:
    """A real capture of a real file whose read() fails at frame ``at`` (``times`` openings in a row):
    the disk or network-share hiccup a file on a device can meet."""

    failures: ClassVar[dict[str, int]] = {}

    def __init__(self, uri: str, at: int, times: int) -> None:
        self._cap = cv2.VideoCapture(uri)
        self._at, self._pos = at, 0
        self._times = times

    def __getattr__(self, name: str):
        return getattr(self._cap, name)

    def grab(self) -> bool:
        self._pos += 1
        return self._cap.grab()

    def read(self):
        if self._pos == self._at and _Flaky.failures.setdefault("n", 0) < self._times:
            _Flaky.failures["n"] += 1
            return False, None
        self._pos += 1
        return self._cap.read()


def _frames(uri: str, opener=None) -> list[tuple[int, int]]:
    src = VideoSource(uri, start_ts=0.0, backoff_initial_s=0.01, opener=opener)
    return [(f.index, int(f.image.astype(np.int64).sum())) for f in src.frames()]


def test_a_read_error_inside_a_file_is_retried_not_taken_as_its_end(short_clip: Path) -> None:
    clean = _frames(str(short_clip))
    _Flaky.failures = {}
    flaky = _frames(str(short_clip), opener=lambda uri: _Flaky(uri, at=30, times=2))
    assert _Flaky.failures["n"] == 2  # it did fail, twice
    assert flaky == clean  # every frame, once, in order, the same pixels


def test_a_file_that_stays_unreadable_ends_there_with_an_error(short_clip: Path, caplog) -> None:
    _Flaky.failures = {}
    got = _frames(str(short_clip), opener=lambda uri: _Flaky(uri, at=30, times=100))
    assert [i for i, _ in got] == list(range(30))
    assert "no frame 30" in caplog.text and "truncated" in caplog.text
