"""/metrics (Prometheus), /health (JSON) and the live view (/live/CAMERA.mjpg|.jpg) of the edge service."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from footfall.common.auth import is_loopback, token_ok
from footfall.edge.live import LiveHub
from footfall.edge.pipeline import CameraStats

MAX_LIVE_VIEWERS = 4  # live streams at once (each costs a JPEG encode per frame); more get 503
MAX_CONNECTIONS = 32  # open connections at once; more are closed at once
TIMEOUT_S = 15.0  # a connection that sends or reads nothing for this long is closed


def allowed(path: str, client: str, authorization: str | None, token: str | None) -> bool:
    """Who may read what: the live view needs the token when one is set (and is loopback-only without);
    /metrics and /health answer the device itself (the Ansible health check) and, beyond it, only with
    the token. Decided before anything else, so that camera names cannot be probed."""
    if path.startswith("/live/") and token is not None:
        return token_ok(authorization, token)
    if is_loopback(client):
        return True
    return token is not None and token_ok(authorization, token)


class StatsCollector:
    """Exposes the latest ``CameraStats`` each camera worker reported."""

    def __init__(self, snapshot: Callable[[], dict[str, tuple[CameraStats, int, bool]]]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        frames = CounterMetricFamily("footfall_frames", "Frames processed", labels=["camera"])
        fps = GaugeMetricFamily("footfall_fps", "Frames per second (moving average)", labels=["camera"])
        dropped = CounterMetricFamily("footfall_dropped_frames", "Live frames skipped to keep up", labels=["camera"])
        reconnects = CounterMetricFamily("footfall_reconnects", "Stream reconnects", labels=["camera"])
        restarts = CounterMetricFamily("footfall_worker_restarts", "Camera worker restarts", labels=["camera"])
        up = GaugeMetricFamily("footfall_camera_up", "1 while the camera worker runs", labels=["camera"])
        latency = GaugeMetricFamily(
            "footfall_latency_seconds",
            "Live frame arrival to counted, over recent frames",
            labels=["camera", "quantile"],
        )
        share = GaugeMetricFamily(
            "footfall_detector_share", "Share of recent frames the detector ran on (idle rate)", labels=["camera"]
        )
        shared = GaugeMetricFamily(
            "footfall_shared_detector",
            "1 while the camera's pictures go to the device's shared detector",
            labels=["camera"],
        )
        fallbacks = CounterMetricFamily(
            "footfall_detector_fallbacks", "Times the camera fell back to its own copy of the model", labels=["camera"]
        )
        crossings = CounterMetricFamily(
            "footfall_crossings", "Counted crossings", labels=["camera", "line", "class", "direction"]
        )
        for cam, (s, n_restarts, alive) in self._snapshot().items():
            frames.add_metric([cam], s.frames)
            fps.add_metric([cam], s.fps)
            dropped.add_metric([cam], s.dropped_frames)
            reconnects.add_metric([cam], s.reconnects)
            restarts.add_metric([cam], n_restarts)
            up.add_metric([cam], 1.0 if alive else 0.0)
            share.add_metric([cam], s.detector_share)
            shared.add_metric([cam], 1.0 if s.detector_placement == "shared" else 0.0)
            fallbacks.add_metric([cam], s.detector_fallbacks)
            for q, v in (("0.5", s.latency_p50_s), ("0.95", s.latency_p95_s)):
                if v is not None:
                    latency.add_metric([cam, q], v)
            for (line, cls, direction), n in sorted(s.crossings.items()):
                crossings.add_metric([cam, line, cls, direction.value], n)
        yield from (frames, fps, dropped, reconnects, restarts, up, latency, share, shared, fallbacks, crossings)


def serve(
    host: str,
    port: int,
    snapshot: Callable[[], dict[str, tuple[CameraStats, int, bool]]],
    health: Callable[[], dict[str, Any]],
    live: LiveHub | None = None,
    token: str | None = None,
    *,
    timeout_s: float = TIMEOUT_S,
) -> ThreadingHTTPServer:
    """Start the endpoint on a daemon thread; return the server (``shutdown()`` to stop).

    See :func:`allowed` for who may read what. Connections are capped (``MAX_CONNECTIONS``), idle ones
    closed after ``timeout_s``, and at most ``MAX_LIVE_VIEWERS`` live streams run at once.
    """
    registry = CollectorRegistry()
    registry.register(StatsCollector(snapshot))
    viewers = threading.BoundedSemaphore(MAX_LIVE_VIEWERS)

    class Handler(BaseHTTPRequestHandler):
        timeout = timeout_s  # socket timeout: a silent or stalled client is dropped

        def do_GET(self) -> None:
            if not allowed(self.path, self.client_address[0], self.headers.get("Authorization"), token):
                if self.path.startswith("/live/") and token is None:
                    self.send_error(403, "the live view beyond loopback needs dashboard.token in the config")
                else:
                    self.send_error(401, "needs 'Authorization: Bearer TOKEN' (dashboard.token)")
                return
            if self.path.startswith("/live/"):
                self._live()
                return
            if self.path.startswith("/metrics"):
                body, ctype, code = generate_latest(registry), "text/plain; version=0.0.4", 200
            elif self.path.startswith("/health"):
                report = health()
                code = 200 if report.get("status") == "ok" else 503
                body, ctype = json.dumps(report).encode(), "application/json"
            else:
                body, ctype, code = b"not found\n", "text/plain", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _live(self) -> None:
            name, _, kind = self.path.removeprefix("/live/").partition("?")[0].rpartition(".")
            if live is None or name not in live.cameras or kind not in ("mjpg", "jpg"):
                self.send_error(404, "no live view of that camera (is metrics.live on?)")
                return
            if not viewers.acquire(blocking=False):
                self.send_error(503, f"{MAX_LIVE_VIEWERS} live views are open; close one and retry")
                return
            try:
                self._stream(live, name, kind)
            finally:
                viewers.release()

        def _stream(self, live: LiveHub, name: str, kind: str) -> None:
            with live.watch(name):
                if kind == "jpg":
                    got = live.next_frame(name, 0, timeout_s=10.0)
                    if got is None:
                        self.send_error(503, "camera produced no frame within 10 s")
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(got[1])))
                    self.send_header("Cache-Control", "no-store")
                    self.end_headers()
                    self.wfile.write(got[1])
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                seq, jpg = 0, b""
                try:
                    while True:
                        got = live.next_frame(name, seq, timeout_s=5.0)
                        if got is not None:
                            seq, jpg = got
                        elif not jpg:
                            continue
                        # on a timeout the last frame again: a viewer who left is noticed by the write
                        self.wfile.write(
                            b"--frame\r\nContent-Type: image/jpeg\r\n"
                            + f"Content-Length: {len(jpg)}\r\n\r\n".encode()
                            + jpg
                            + b"\r\n"
                        )
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    pass  # the viewer left, or stopped reading
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = _CappedServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


class _CappedServer(ThreadingHTTPServer):
    """A thread per connection, but at most ``MAX_CONNECTIONS`` of them: the rest are closed at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def health_report(
    cameras: dict[str, tuple[CameraStats, int, bool]],
    stale_after_s: float = 30.0,
    shared_detector: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``shared_detector``: the device's detector process (``alive``, ``restarts``), when it has one."""
    now = time.time()
    cams: dict[str, dict[str, Any]] = {
        cam: {
            "alive": alive,
            "fps": round(s.fps, 2),
            "frames": s.frames,
            "reconnects": s.reconnects,
            "dropped_frames": s.dropped_frames,
            "latency_ms": None
            if s.latency_p50_s is None
            else {"p50": round(1000 * s.latency_p50_s, 1), "p95": round(1000 * (s.latency_p95_s or 0.0), 1)},
            "detector_share": round(s.detector_share, 3),
            "detector": s.detector_placement,
            "detector_fallbacks": s.detector_fallbacks,
            "seconds_since_frame": round(now - s.last_frame_wall, 1) if s.last_frame_wall else None,
            "model_version": s.model_version,
            "model_sha256": s.model_sha256,
            "restarts": restarts,
        }
        for cam, (s, restarts, alive) in cameras.items()
    }
    ok = bool(cams) and all(
        c["alive"] and isinstance(age := c["seconds_since_frame"], float) and age < stale_after_s for c in cams.values()
    )
    versions = sorted({c["model_version"] for c in cams.values() if c["model_version"]})
    report = {
        "status": "ok" if ok else "degraded",
        "model_version": versions[0] if len(versions) == 1 else versions,
        "cameras": cams,
    }
    if shared_detector is not None:
        report["shared_detector"] = shared_detector
    return report
