"""A real RTSP server (GStreamer's gst-rtsp-server) that serves video clips as live H.264 streams.

Run with the system Python, which has PyGObject (python3-gi) and the GStreamer bindings:

  /usr/bin/python3 tests/rtsp_server.py --port P [--fps 10] [--control DIR] NAME=CLIP[,CLIP...] ...

A CLIP is raw BGR frames in a file named ``*.WxH.bgr`` (the test writes them with OpenCV); the
stream at rtsp://127.0.0.1:P/NAME plays its clips one after the other at --fps in real time and
loops, encoded live by x264 (a change of clip size is a resolution change mid-stream, with a new
SPS, as a camera whose profile is changed sends). Each client gets its own stream from the start.
While the file DIR/NAME.stall exists the stream sends nothing but stays connected: a camera that
stalls. Killing the process is a camera (or its network) going away.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = (
    # a live camera: frames not taken while the client sets up are dropped, not sent later in a burst
    "appsrc name=src is-live=true format=time do-timestamp=true max-buffers=2 leaky-type=downstream ! "
    "videoconvert ! video/x-raw,format=I420 ! "
    "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bframes=0 threads=1 ! "
    "rtph264pay name=pay0 pt=96 config-interval=1"
)


class Clip:
    def __init__(self, path: str) -> None:
        m = re.search(r"\.(\d+)x(\d+)\.bgr$", path)
        if not m:
            raise SystemExit(f"{path}: a clip is named *.WxH.bgr")
        self.path, self.width, self.height = path, int(m.group(1)), int(m.group(2))
        self.frame_bytes = self.width * self.height * 3
        self.frames = os.path.getsize(path) // self.frame_bytes

    def caps(self, fps: int) -> Gst.Caps:
        return Gst.Caps.from_string(f"video/x-raw,format=BGR,width={self.width},height={self.height},framerate={fps}/1")


class Feed(threading.Thread):
    """Pushes one client's frames into its appsrc, in real time, until the client goes."""

    def __init__(self, name: str, src: Gst.Element, clips: list[Clip], fps: int, control: str | None) -> None:
        super().__init__(daemon=True)
        self.name_, self.src, self.clips, self.fps, self.control = name, src, clips, fps, control
        self.stopped = threading.Event()

    def stalled(self) -> bool:
        return self.control is not None and os.path.exists(os.path.join(self.control, f"{self.name_}.stall"))

    def run(self) -> None:
        period = 1.0 / self.fps
        due = time.monotonic()
        while not self.stopped.is_set():
            for clip in self.clips:
                self.src.set_property("caps", clip.caps(self.fps))
                with open(clip.path, "rb") as fh:
                    for _ in range(clip.frames):
                        while self.stalled() and not self.stopped.is_set():
                            time.sleep(0.05)
                            due = time.monotonic()
                        data = fh.read(clip.frame_bytes)
                        due += period
                        delay = due - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                        if self.stopped.is_set():
                            return
                        buf = Gst.Buffer.new_wrapped(data)
                        buf.duration = int(period * Gst.SECOND)
                        flow = self.src.emit("push-buffer", buf)
                        if flow not in (Gst.FlowReturn.OK, Gst.FlowReturn.FLUSHING):
                            return  # the client went away


class Factory(GstRtspServer.RTSPMediaFactory):
    def __init__(self, name: str, clips: list[Clip], fps: int, control: str | None) -> None:
        super().__init__()
        self.name_, self.clips, self.fps, self.control = name, clips, fps, control
        self.set_shared(False)
        self.connect("media-configure", self._configure)

    def do_create_element(self, url: GstRtspServer.RTSPUrl) -> Gst.Element:
        return Gst.parse_launch(PIPELINE.format(gop=2 * self.fps))

    def _configure(self, factory: Factory, media: GstRtspServer.RTSPMedia) -> None:
        src = media.get_element().get_child_by_name("src")
        src.set_property("caps", self.clips[0].caps(self.fps))
        feed = Feed(self.name_, src, self.clips, self.fps, self.control)
        media.connect("unprepared", lambda *_: feed.stopped.set())

        feed.start()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--control", help="directory of NAME.stall files")
    ap.add_argument("mounts", nargs="+", help="NAME=CLIP[,CLIP...]")
    args = ap.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for spec in args.mounts:
        name, _, paths = spec.partition("=")
        clips = [Clip(p) for p in paths.split(",")]
        mounts.add_factory(f"/{name}", Factory(name, clips, args.fps, args.control))
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on 127.0.0.1:{args.port}")
    print(f"rtsp server on 127.0.0.1:{args.port}: {', '.join(m.partition('=')[0] for m in args.mounts)}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    sys.exit(main())
