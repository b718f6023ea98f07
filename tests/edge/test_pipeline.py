"""The frame loop's readers: files decoded ahead (nothing dropped, errors surfaced), live sources newest-only."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from footfall.edge.pipeline import read_ahead
from footfall.edge.sources import Frame


def numbered(n: int, fail_at: int | None = None) -> Iterator[Frame]:
    for i in range(n):
        if i == fail_at:
            raise OSError("decoder broke")
        yield Frame(image=np.zeros((2, 2, 3), np.uint8), index=i, ts=i / 10)


def test_every_frame_arrives_in_order_even_when_the_consumer_is_slow() -> None:
    got = []
    for frame in read_ahead(numbered(50), threading.Event(), depth=2):
        got.append(frame.index)
        if frame.index < 5:
            time.sleep(0.01)  # the reader fills its queue meanwhile and must wait, not drop
    assert got == list(range(50))


def test_a_reader_error_is_raised_in_the_consumer_after_the_frames_before_it() -> None:
    got = []
    with pytest.raises(OSError, match="decoder broke"):
        for frame in read_ahead(numbered(10, fail_at=7), threading.Event()):
            got.append(frame.index)
    assert got == list(range(7))


def test_leaving_early_stops_the_reader() -> None:
    before = {t.ident for t in threading.enumerate()}
    frames = read_ahead(numbered(10_000), threading.Event(), depth=2)
    assert next(frames).index == 0
    frames.close()  # what a `break` out of the frame loop does
    deadline = time.monotonic() + 5
    while any(t.name == "frame-reader" and t.ident not in before for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the reader thread kept running"
        time.sleep(0.02)


def test_stop_ends_the_stream() -> None:
    stop = threading.Event()
    got = []
    for frame in read_ahead(numbered(10_000), stop, depth=2):
        got.append(frame.index)
        if frame.index == 3:
            stop.set()
    assert 4 <= len(got) < 10_000 and got == list(range(len(got)))


def test_live_reader_hands_over_the_newest_frame_and_stops_when_the_loop_leaves() -> None:
    from footfall.edge.pipeline import CameraStats, latest_only

    def camera() -> Iterator[Frame]:  # a live source: frames keep coming every 5 ms
        i = 0
        while True:
            yield Frame(image=np.zeros((2, 2, 3), np.uint8), index=i, ts=i / 200)
            i += 1
            time.sleep(0.005)

    stats = CameraStats("cam")
    before = {t.ident for t in threading.enumerate()}
    frames = latest_only(camera(), stats, threading.Event())
    got = []
    for frame in frames:
        got.append(frame.index)
        time.sleep(0.03)  # a slow loop: the reader drops what it cannot hand over
        if len(got) == 5:
            break
    frames.close()
    assert got == sorted(got) and got[-1] - got[0] > 4 and stats.dropped_frames > 0
    deadline = time.monotonic() + 5
    while any(t.name == "frame-reader" and t.ident not in before for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the live reader kept running"
        time.sleep(0.02)
