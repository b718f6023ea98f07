"""Drive tests/rtsp_server.py (a real GStreamer RTSP server) from the test environment."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import cv2
import pytest

from tests.helpers import free_port, video_frames

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).with_name("rtsp_server.py")


def rtsp_available() -> bool:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    return shutil.which(SYSTEM_PYTHON) is not None and subprocess.run([SYSTEM_PYTHON, "-c", probe]).returncode == 0


def write_clip(video: Path, out_dir: Path, start: int, count: int, size: tuple[int, int] | None = None) -> Path:
    """Frames [start, start + count) of ``video`` as a raw clip the server plays, optionally resized."""
    frames = [
        frame if size is None else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        for frame in video_frames(video, start, count)
    ]
    h, w = frames[0].shape[:2]
    out = out_dir / f"{video.stem}-{start}-{count}.{w}x{h}.bgr"
    with open(out, "wb") as fh:
        for f in frames:
            fh.write(f.tobytes())
    return out


class RtspServer:
    """One server process on a free port; ``mounts`` maps a stream name to the clips it plays in a loop."""

    def __init__(self, work: Path, mounts: dict[str, list[Path]], fps: int = 10) -> None:
        if not rtsp_available():
            pytest.fail(
                "GStreamer's RTSP server is not installed. Fix: apt-get install gir1.2-gst-rtsp-server-1.0 "
                "gstreamer1.0-plugins-ugly python3-gi (scripts/setup.sh does)"
            )
        self.work, self.mounts, self.fps = work, mounts, fps
        self.port = free_port()
        self.control = work / "control"
        self.control.mkdir(exist_ok=True)
        self.proc: subprocess.Popen | None = None

    def url(self, name: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{name}"

    def start(self, mounts: dict[str, list[Path]] | None = None) -> RtspServer:
        self.mounts = mounts or self.mounts
        specs = [f"{name}={','.join(str(c) for c in clips)}" for name, clips in self.mounts.items()]
        cmd = [SYSTEM_PYTHON, str(SERVER), "--port", str(self.port), "--fps", str(self.fps)]
        self.proc = subprocess.Popen([*cmd, "--control", str(self.control), *specs], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the RTSP server did not start (exit {self.proc.poll()})") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stall(self, name: str, stalled: bool = True) -> None:
        flag = self.control / f"{name}.stall"
        if stalled:
            flag.touch()
        else:
            flag.unlink(missing_ok=True)

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
