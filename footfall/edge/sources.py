"""Camera sources: video files, RTSP/HTTP streams and USB cameras through OpenCV.

A live source that drops is reopened with exponential backoff; a file source ends cleanly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from footfall.common.redact import redact_url

log = logging.getLogger(__name__)

LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


class SourceError(RuntimeError):
    """A source that cannot be opened at all (wrong path, unsupported format)."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its 0-based index in the session, its timestamp (epoch seconds) and pixels."""

    index: int
    ts: float
    image: np.ndarray


def source_kind(uri: str) -> str:
    """``file``, ``usb`` (a device index such as ``0`` or ``/dev/video0``) or ``stream``."""
    if uri.isdigit() or uri.startswith("/dev/video"):
        return "usb"
    if uri.lower().startswith(LIVE_SCHEMES):
        return "stream"
    return "file"


class VideoSource:
    """Frames from one camera.

    Args:
        uri: file path, stream URL or USB device.
        start_ts: epoch time of frame 0 of a file (files are timed by their frame rate from here;
            default: the file's modification time minus its duration); live sources use the wall clock.
        backoff_initial_s / backoff_max_s: reconnect delays of a live source double from the first
            to the second.
        read_timeout_s: a live source that yields no frame for this long is treated as dropped.
        stop: set to end the iteration, e.g. on shutdown, also while waiting to reconnect.
        on_reconnect: called after every successful reopen (for metrics).
    """

    def __init__(
        self,
        uri: str,
        *,
        start_ts: float | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        stop: threading.Event | None = None,
        on_reconnect: Callable[[], None] | None = None,
        opener: Callable[[str], cv2.VideoCapture] | None = None,
    ) -> None:
        self.uri = uri
        self.shown = redact_url(uri)  # what logs and errors say: never the camera's password
        self.kind = source_kind(uri)
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stop = stop or threading.Event()
        self.on_reconnect = on_reconnect
        self._open = opener or open_capture
        self.reconnects = 0
        self.fps = 0.0
        self.frame_count = 0
        if self.kind == "file" and not Path(uri).is_file():
            raise SourceError(f"video file {uri} does not exist. Fix: check cameras[].source")
        self.start_ts = self._default_start() if start_ts is None else start_ts

    def _default_start(self) -> float:
        """A recording ends when its file was last written: frame 0 is its duration before that."""
        if self.kind != "file":
            return time.time()
        cap = cv2.VideoCapture(self.uri)
        fps, count = cap.get(cv2.CAP_PROP_FPS), cap.get(cv2.CAP_PROP_FRAME_COUNT)
        cap.release()
        duration = count / fps if fps and 0 < fps < 240 and count > 0 else 0.0
        return Path(self.uri).stat().st_mtime - duration

    def frames(self, skip: int = 0) -> Iterator[Frame]:
        """Yield frames; for a file, ``skip`` frames are decoded and dropped first (resume)."""
        opened: cv2.VideoCapture | None = self._open(self.uri)
        if opened is not None and not opened.isOpened():
            if self.kind == "file":
                raise SourceError(f"cannot decode video file {self.shown}")
            opened = self._reopen(opened)
        if opened is None:
            return
        cap: cv2.VideoCapture = opened
        self.fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        if self.kind == "file":
            self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = self.fps if 0 < self.fps < 240 else 25.0
        index = 0
        failed_at, failures = -1, 0
        try:
            while not self.stop.is_set():
                if self.kind == "file" and index < skip:
                    # grab() decodes without converting: frame-exact where seeking H.264 is not
                    if not cap.grab():
                        return
                    index += 1
                    continue
                ok, image = cap.read()
                if not ok or image is None:
                    if self.kind == "file":
                        # the end, or a read error before it (a file on a network share, a disk hiccup):
                        # ending there would mark the session finished and never count the rest
                        failures = failures + 1 if failed_at == index else 1
                        failed_at = index
                        if not self._short_of_the_end(index) or failures > FILE_READ_RETRIES:
                            if self._short_of_the_end(index):
                                log.error(
                                    "video file %s: no frame %d of %d after %d reopenings; taking it as the end "
                                    "(truncated?)", self.shown, index, self.frame_count, FILE_READ_RETRIES,
                                )  # fmt: skip
                            return
                        log.warning("video file %s: frame %d of %d unreadable; reopening", self.shown, index,
                                    self.frame_count)  # fmt: skip
                        reopened = self._reopen_file_at(cap, index, failures)
                        if reopened is None:
                            return
                        cap = reopened
                        continue
                    log.warning("source %s dropped after frame %d; reconnecting", self.shown, index)
                    reopened = self._reopen(cap)
                    if reopened is None:
                        return
                    cap = reopened
                    continue
                ts = self.start_ts + index / fps if self.kind == "file" else time.time()
                yield Frame(index, ts, image)
                index += 1
        finally:
            cap.release()

    def _short_of_the_end(self, index: int) -> bool:
        """Whether frame ``index`` should exist: the container says it has more frames (its count may be an
        estimate a little too high, hence the slack)."""
        return self.frame_count > 0 and index < self.frame_count - max(2, self.frame_count // 100)

    def _reopen_file_at(self, cap: cv2.VideoCapture, index: int, attempt: int) -> cv2.VideoCapture | None:
        """The file opened again and advanced to frame ``index`` (decoded with grab(): frame-exact); None
        when stopped or when the frames before ``index`` cannot be read again either."""
        cap.release()
        for k in range(FILE_READ_RETRIES):
            if self.stop.wait(min(self.backoff_initial_s * 2 ** (attempt + k - 1), self.backoff_max_s)):
                return None
            cap = self._open(self.uri)
            if all(cap.grab() for _ in range(index)):
                return cap
            cap.release()
        return None

    def _reopen(self, cap: cv2.VideoCapture) -> cv2.VideoCapture | None:
        cap.release()
        delay = self.backoff_initial_s
        attempt = 0
        while not self.stop.is_set():
            attempt += 1
            if self.stop.wait(delay):
                return None
            cap = self._open(self.uri)
            if cap.isOpened():
                self.reconnects += 1
                log.info("source %s reconnected after %d attempt(s)", self.shown, attempt)
                if self.on_reconnect:
                    self.on_reconnect()
                return cap
            cap.release()
            log.warning("source %s still unavailable (attempt %d); retrying in %.1fs", self.shown, attempt, delay)
            delay = min(delay * 2, self.backoff_max_s)
        return None


FILE_READ_RETRIES = 3  # reopenings of a video file that failed to read a frame before its end


def open_capture(uri: str) -> cv2.VideoCapture:
    """A capture of ``uri``; a stream is opened and read with 5 s timeouts (a dead server never blocks)."""
    if uri.isdigit():
        return cv2.VideoCapture(int(uri))
    if source_kind(uri) == "stream":
        # bounded open/read timeouts, or a dead RTSP server blocks the worker forever
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000]
        return cv2.VideoCapture(uri, cv2.CAP_FFMPEG, params)
    return cv2.VideoCapture(uri)
