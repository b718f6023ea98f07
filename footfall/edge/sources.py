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
        stop: set to end the iteration, e.g. on shutdown, also while waiting to reconnect.
        on_reconnect: called after every successful reopen (for metrics).
        frame_size: (width, height) of the picture the counting lines were drawn on. A camera whose
            stream changes resolution (a profile changed on the camera, a reconnect to another
            stream) still shows the same scene: its frames are scaled back to this size, so lines,
            tracks and counts carry on. Default: the size of the first frame.
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
        frame_size: tuple[int, int] | None = None,
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
        self.frame_size = frame_size
        self.size_changes = 0  # times the decoded size changed while running (each logged)
        self._decoded_size: tuple[int, int] | None = None
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
                began = time.monotonic()
                ok, image = cap.read()
                if ok and self.kind == "stream" and time.monotonic() - began >= 0.9 * READ_TIMEOUT_S:
                    # FFmpeg gives up waiting after the read timeout but reports success (the last
                    # picture again): a stalled camera whose connection is still open
                    log.warning("source %s stalled: no frame for %.0f s", self.shown, time.monotonic() - began)
                    ok = False
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
                yield Frame(index, ts, self._to_frame_size(image))
                index += 1
        finally:
            cap.release()

    def _to_frame_size(self, image: np.ndarray) -> np.ndarray:
        """``image`` at ``frame_size`` (fixed by the first frame when not configured)."""
        decoded = (image.shape[1], image.shape[0])
        if self.frame_size is None:
            self.frame_size = decoded
        if decoded != self._decoded_size:
            if self._decoded_size is not None or decoded != self.frame_size:
                self.size_changes += self._decoded_size is not None
                log.warning(
                    "source %s: frames are %dx%d; %s to the %dx%d the counting lines are drawn on%s",
                    self.shown, *decoded, "scaled" if decoded != self.frame_size else "back",
                    *self.frame_size,
                    "" if _same_aspect(decoded, self.frame_size) else " (another aspect ratio: check the lines)",
                )  # fmt: skip
            self._decoded_size = decoded
        if decoded == self.frame_size:
            return image
        return cv2.resize(image, self.frame_size, interpolation=cv2.INTER_AREA)

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


def _same_aspect(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return abs(a[0] * b[1] - a[1] * b[0]) <= 0.01 * a[0] * b[1]


READ_TIMEOUT_S = 5.0  # a stream that sends no frame for this long is reconnected
FILE_READ_RETRIES = 3  # reopenings of a video file that failed to read a frame before its end


def open_capture(uri: str) -> cv2.VideoCapture:
    """A capture of ``uri``; a stream is opened and read with 5 s timeouts (a dead server never blocks)."""
    if uri.isdigit():
        return cv2.VideoCapture(int(uri))
    if source_kind(uri) == "stream":
        # bounded open/read timeouts, or a dead RTSP server blocks the worker forever
        timeout_ms = int(READ_TIMEOUT_S * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
        return cv2.VideoCapture(uri, cv2.CAP_FFMPEG, params)
    return cv2.VideoCapture(uri)
