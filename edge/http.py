"""/metrics (Prometheus) and /health (JSON) of the edge service."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from edge.pipeline import CameraStats


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
            for key, n in sorted(s.crossings.items()):
                line, cls, direction = key.split("|")
                crossings.add_metric([cam, line, cls, direction], n)
        yield from (frames, fps, dropped, reconnects, restarts, up, crossings)


def serve(
    host: str,
    port: int,
    snapshot: Callable[[], dict[str, tuple[CameraStats, int, bool]]],
    health: Callable[[], dict[str, Any]],
) -> ThreadingHTTPServer:
    """Start the endpoint on a daemon thread; return the server (``shutdown()`` to stop)."""
    registry = CollectorRegistry()
    registry.register(StatsCollector(snapshot))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
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

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


def health_report(cameras: dict[str, tuple[CameraStats, int, bool]], stale_after_s: float = 30.0) -> dict[str, Any]:
    now = time.time()
    cams: dict[str, dict[str, Any]] = {
        cam: {
            "alive": alive,
            "fps": round(s.fps, 2),
            "frames": s.frames,
            "seconds_since_frame": round(now - s.last_frame_wall, 1) if s.last_frame_wall else None,
            "model_version": s.model_version,
            "restarts": restarts,
        }
        for cam, (s, restarts, alive) in cameras.items()
    }
    ok = bool(cams) and all(
        c["alive"] and isinstance(age := c["seconds_since_frame"], float) and age < stale_after_s for c in cams.values()
    )
    versions = sorted({c["model_version"] for c in cams.values() if c["model_version"]})
    return {
        "status": "ok" if ok else "degraded",
        "model_version": versions[0] if len(versions) == 1 else versions,
        "cameras": cams,
    }
