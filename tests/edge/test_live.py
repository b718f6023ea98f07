"""The live view: frames drawn only while someone watches, none kept after the last viewer leaves."""

from __future__ import annotations

import threading

import numpy as np

from footfall.common.lines import LineConfig
from footfall.edge.live import LiveHub, LiveRenderer, draw_overlay
from footfall.edge.sources import Frame
from footfall.edge.types import CrossingKey, Detections, Direction, Tracks


def tracks() -> Tracks:
    return Tracks(
        xyxy=np.array([[10, 20, 50, 120]], np.float32),
        track_id=np.array([7]),
        confidence=np.array([0.9], np.float32),
        class_id=np.array([0], np.int32),
    )


def test_overlay_draws_boxes_lines_and_leaves_the_source_untouched() -> None:
    image = np.zeros((200, 300, 3), np.uint8)
    line = LineConfig(name="door", points=((150, 0), (150, 200)))
    out = draw_overlay(
        image,
        tracks(),
        ["person"],
        [line],
        {CrossingKey("door", "person", Direction.IN): 3, CrossingKey("door", "person", Direction.OUT): 1},
    )
    assert not image.any()  # a copy is drawn on
    assert (out[100:190, 149:152] == (0, 255, 255)).all(axis=2).mean() > 0.9  # the line, yellow
    assert out[60, 10].any() and out[60, 30].sum() == 0  # the box edge, not its inside
    assert out[8:20, 8:150].any()  # the running counts


def test_renderer_publishes_only_when_wanted_and_at_most_fps() -> None:
    wanted, got = threading.Event(), []
    line = LineConfig(name="door", points=((150, 0), (150, 200)))
    r = LiveRenderer(wanted, got.append, ["person"], [line], {}, fps=1000)
    frame = Frame(image=np.zeros((200, 300, 3), np.uint8), index=0, ts=0.0)
    empty = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))
    assert r.offer(frame, empty, tracks()) is False and not got
    wanted.set()
    assert r.offer(frame, empty, tracks()) is True and got[0][:2] == b"\xff\xd8"
    slow = LiveRenderer(wanted, got.append, ["person"], [line], {}, fps=0.001)
    assert slow.offer(frame, empty, tracks()) is True and slow.offer(frame, empty, tracks()) is False


def test_hub_raises_the_flag_per_viewer_and_forgets_frames_when_nobody_watches() -> None:
    flag = threading.Event()
    hub = LiveHub({"cam": flag})
    with hub.watch("cam"):
        assert flag.is_set()
        with hub.watch("cam"):
            hub.put("cam", b"jpeg-1")
        assert flag.is_set()  # one viewer is still there
        assert hub.next_frame("cam", 0, timeout_s=0.1) == (1, b"jpeg-1")
        assert hub.next_frame("cam", 1, timeout_s=0.05) is None
        threading.Timer(0.05, hub.put, ("cam", b"jpeg-2")).start()
        assert hub.next_frame("cam", 1, timeout_s=5) == (2, b"jpeg-2")
    assert not flag.is_set()
    assert hub.next_frame("cam", 0, timeout_s=0.01) is None  # no customer image outlives its viewers
