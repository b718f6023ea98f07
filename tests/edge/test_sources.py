"""Sources against a real local MJPEG/HTTP camera that drops and comes back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

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
