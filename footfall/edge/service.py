"""The edge service: one worker process per camera, a watchdog, metrics, logs in one place.

One crashing camera does not stop the others: the watchdog restarts a failed worker with
exponential backoff and gives up on a camera that fails more than ``max_restarts`` times within
``restart_window_s``. A file source ends its worker cleanly (exit 0), which is not restarted.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from footfall.edge.config import CameraConfig, EdgeConfig
from footfall.edge.detectors.shared import ServerAddress
from footfall.edge.live import LiveHub
from footfall.edge.pipeline import CameraStats, RunResult

log = logging.getLogger(__name__)

_CTX = mp.get_context("spawn")  # fork would copy ONNX Runtime / torch thread pools into children
# a worker's exit code asking to be started again at once (its model changed classes), not a failure
RESTART_EXIT = 75


@dataclass
class RunOptions:
    max_frames: int | None = None
    fresh: bool = False
    progress: bool = True
    stats_interval_s: float = 1.0


@dataclass(frozen=True)
class StatsMessage:
    """A camera worker's latest figures, and where its source is (frame ``index`` of ``total``)."""

    camera: str
    stats: CameraStats
    index: int
    total: int


@dataclass(frozen=True)
class FrameMessage:
    """One annotated live-view frame (JPEG) of a camera."""

    camera: str
    jpeg: bytes


@dataclass(frozen=True)
class DoneMessage:
    """A camera worker finished its run."""

    camera: str
    result: RunResult


WorkerMessage = StatsMessage | FrameMessage | DoneMessage


def _child_logging(logs: Any) -> None:
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(logs)]
    root.setLevel(logging.INFO)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop


def _child_stop(stop_evt: Any) -> threading.Event:
    """Set when the service asks its children to stop, or when the service itself is gone."""
    parent = os.getppid()
    stop = threading.Event()

    def watch_parent() -> None:
        while not stop.is_set():
            if stop_evt.is_set() or os.getppid() != parent:
                stop.set()
            time.sleep(0.2)

    threading.Thread(target=watch_parent, daemon=True).start()
    return stop


def _detector_worker(cfg_blob: bytes, address: ServerAddress, logs: Any, stop_evt: Any, ready: Any) -> None:
    _child_logging(logs)
    from footfall.edge.detectors.shared import serve_detector

    serve_detector(EdgeConfig.model_validate_json(cfg_blob).model, address, _child_stop(stop_evt), ready)


def _camera_worker(
    cfg_blob: bytes,
    camera: str,
    messages: Any,
    logs: Any,
    stop_evt: Any,
    live_evt: Any,
    opts: RunOptions,
    detector_at: ServerAddress | None = None,
) -> None:
    _child_logging(logs)
    from footfall.edge.build import build_camera
    from footfall.edge.detectors import create_detector
    from footfall.edge.detectors.shared import DetectorLink
    from footfall.edge.pipeline import run_camera, session_id
    from footfall.edge.store import CountStore

    cfg = EdgeConfig.model_validate_json(cfg_blob)
    cam = next(c for c in cfg.cameras if c.name == camera)
    stop = _child_stop(stop_evt)
    link = DetectorLink(detector_at, cfg.model.shared_timeout_s) if detector_at is not None else None
    parts = build_camera(cfg, cam, stop, detector=create_detector(cfg.model, link) if link else None)
    session = session_id(cam.name, cam.source, cfg.fingerprint(cam))
    if opts.fresh:
        session += f"-{int(time.time())}"
    last = [0.0]

    def placement(stats: CameraStats) -> None:
        if link is not None:
            stats.detector_placement = "shared" if link.shared else "own"
            stats.detector_fallbacks = link.fallbacks

    def progress(stats: CameraStats, index: int) -> None:
        placement(stats)
        now = time.monotonic()
        if now - last[0] >= opts.stats_interval_s:
            last[0] = now
            messages.put(StatsMessage(camera, stats, index, parts.source.frame_count))

    stats = CameraStats(camera)
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(CountStore(cfg.storage.db))
        sink = None
        if cfg.capture.enabled:
            from footfall.edge.capture import CaptureSink

            detector = parts.detector
            sink = stack.enter_context(
                CaptureSink(cfg.capture, camera, session, list(detector.class_names), detector.model_version)
            )
        from footfall.edge.live import LiveRenderer
        from footfall.edge.model_watch import ModelWatcher

        live = LiveRenderer(
            live_evt,
            lambda jpeg: messages.put(FrameMessage(camera, jpeg)),
            list(parts.detector.class_names),
            cam.lines,
            stats.crossings,
            cfg.metrics.live_fps,
        )

        def on_tracks(frame: Any, detections: Any, tracks: Any) -> None:
            if sink is not None:  # the version of the model that ran on this frame, also after a hot swap
                sink.offer(frame, detections, tracks, stats.model_version, parts.counter.moments)
            live.offer(frame, detections, tracks)

        watcher = ModelWatcher(cfg.model, parts.detector, create=lambda model: create_detector(model, link))
        result = run_camera(
            parts,
            reload_detector=watcher.poll,
            camera=camera,
            store=store,
            session=session,
            checkpoint_every_s=cfg.storage.checkpoint_every_s,
            max_frames=opts.max_frames,
            stop=stop,
            stats=stats,
            on_progress=progress,
            on_tracks=on_tracks,
        )
    placement(stats)
    messages.put(StatsMessage(camera, stats, stats.frames, parts.source.frame_count))
    stop.set()
    if link is not None:
        link.close()
    if result.restart:
        sys.exit(RESTART_EXIT)
    messages.put(DoneMessage(camera, result))


@dataclass
class _DetectorProcess:
    """The device's shared detector process, restarted with backoff like a camera (never given up on:
    while it is down, cameras count with their own copy of the model)."""

    address: ServerAddress
    process: Any = None
    ready: Any = None
    restarts: int = 0
    backoff: float = 0.0
    next_start: float = 0.0


@dataclass
class _Worker:
    camera: CameraConfig
    process: Any = None
    restarts: deque[float] = field(default_factory=deque)
    total_restarts: int = 0
    next_start: float = 0.0
    backoff: float = 0.0
    done: bool = False
    gave_up: bool = False
    result: RunResult | None = None
    stats: CameraStats | None = None


class EdgeService:
    """Runs every enabled camera of ``cfg`` until the file sources end or ``stop()`` is called."""

    def __init__(self, cfg: EdgeConfig, opts: RunOptions | None = None) -> None:
        self.cfg = cfg
        self.opts = opts or RunOptions()
        self._stop = threading.Event()
        self._stop_evt = _CTX.Event()
        self._messages = _CTX.Queue()
        self._logs = _CTX.Queue()
        self._workers = {c.name: _Worker(c, stats=CameraStats(c.name)) for c in cfg.cameras if c.enabled}
        self._live_wanted = {name: _CTX.Event() for name in self._workers}
        self.live = LiveHub(self._live_wanted)
        self._lock = threading.Lock()
        self._bars: dict[str, Any] = {}
        self._shares_detector = cfg.model.shared(len(self._workers))
        self._detector: _DetectorProcess | None = None  # made by run(): its socket folder is removed at the end

    def stop(self, *_: object) -> None:
        self._stop.set()

    def snapshot(self) -> dict[str, tuple[CameraStats, int, bool]]:
        with self._lock:
            return {
                name: (
                    w.stats or CameraStats(name),
                    w.total_restarts,
                    bool(w.process is not None and w.process.is_alive()),
                )
                for name, w in self._workers.items()
            }

    def run(self) -> dict[str, RunResult | None]:
        from footfall.common.auth import access_token
        from footfall.edge.http import health_report, serve

        listener = logging.handlers.QueueListener(self._logs, *logging.getLogger().handlers, respect_handler_level=True)
        listener.start()
        server = None
        if self.cfg.metrics.port:
            server = serve(
                self.cfg.metrics.host,
                self.cfg.metrics.port,
                self.snapshot,
                lambda: health_report(self.snapshot(), shared_detector=self._detector_health()),
                live=self.live if self.cfg.metrics.live else None,
                token=access_token(self.cfg.dashboard.token),
            )
            log.info("metrics on http://%s:%d/metrics", self.cfg.metrics.host, server.server_address[1])
        blob = self.cfg.model_dump_json().encode()
        last_log = time.monotonic()
        sync = self.cfg.capture.sync
        if self.cfg.capture.enabled and sync.url and sync.every_s > 0:
            threading.Thread(target=self._sync_loop, name="capture-sync", daemon=True).start()
        if self._shares_detector:
            self._detector = _DetectorProcess(ServerAddress.private())
            self._start_detector(blob)
        try:
            while True:
                now = time.monotonic()
                if self._detector is not None:
                    self._supervise_detector(blob, now)
                for w in self._workers.values():
                    self._supervise(w, blob, now)
                self._drain(timeout=0.2)
                if all(w.done or w.gave_up for w in self._workers.values()):
                    break
                if self._stop.is_set():
                    self._shutdown()
                    break
                if now - last_log >= 10:
                    last_log = now
                    for name, (s, _, alive) in self.snapshot().items():
                        if alive:
                            log.info(
                                "camera %s: %.1f fps, %d frames, %d reconnects", name, s.fps, s.frames, s.reconnects
                            )
        finally:
            self._drain(timeout=0.1)
            for bar in self._bars.values():
                bar.close()
            if server:
                server.shutdown()
            if self._detector is not None:
                self._stop_detector()
            listener.stop()
        return {name: w.result for name, w in self._workers.items()}

    def _sync_loop(self) -> None:
        from footfall.edge.capture import Spool
        from footfall.edge.sync import sync_spool
        from footfall.registry.storage import open_storage

        cap = self.cfg.capture
        assert cap.sync.url is not None
        while not self._stop.wait(cap.sync.every_s):
            spool = Spool.of(cap)
            try:
                result = sync_spool(spool, open_storage(cap.sync.url), cap.sync.store)
                log.info("capture sync: %d item(s) uploaded, %d left", result.uploaded, result.remaining)
            except Exception as exc:  # a network cut: try again next period, nothing local is lost
                log.warning("capture sync failed (%s); retrying in %.0fs", exc, cap.sync.every_s)
            finally:
                spool.close()

    def _supervise(self, w: _Worker, blob: bytes, now: float) -> None:
        if w.done or w.gave_up:
            return
        if w.process is not None and not w.process.is_alive():
            w.process.join()
            code = w.process.exitcode
            w.process = None
            self._drain(timeout=0.05)
            if code == 0 and w.result is not None:
                w.done = True
                return
            if self._stop.is_set():
                w.done = True
                return
            if code == RESTART_EXIT:  # not a failure: no backoff, not counted against the restart limit
                log.info("camera %s: starting again with the new model's classes", w.camera.name)
                w.next_start = now
                return  # started on the next pass of the supervision loop (0.2 s)
            wd = self.cfg.watchdog
            while w.restarts and now - w.restarts[0] > wd.restart_window_s:
                w.restarts.popleft()
            if len(w.restarts) >= wd.max_restarts:
                w.gave_up = True
                log.error(
                    "camera %s failed %d times within %.0fs; giving up on it (other cameras go on)",
                    w.camera.name,
                    len(w.restarts) + 1,
                    wd.restart_window_s,
                )
                return
            w.backoff = min(max(w.backoff * 2, wd.backoff_initial_s), wd.backoff_max_s)
            w.next_start = now + w.backoff
            w.restarts.append(now)
            w.total_restarts += 1
            log.warning("camera %s worker exited with code %s; restarting in %.1fs", w.camera.name, code, w.backoff)
        if w.process is None and now >= w.next_start:
            w.process = _CTX.Process(
                target=_camera_worker,
                name=f"camera-{w.camera.name}",
                args=(
                    blob,
                    w.camera.name,
                    self._messages,
                    self._logs,
                    self._stop_evt,
                    self._live_wanted[w.camera.name],
                    self.opts,
                    self._detector.address if self._detector is not None else None,
                ),
                daemon=True,
            )
            w.process.start()

    def _supervise_detector(self, blob: bytes, now: float) -> None:
        d = self._detector
        assert d is not None
        if d.process is not None and not d.process.is_alive():
            d.process.join()
            if self._stop.is_set():
                return
            wd = self.cfg.watchdog
            d.backoff = min(max(d.backoff * 2, wd.backoff_initial_s), wd.backoff_max_s)
            d.next_start = now + d.backoff
            d.restarts += 1
            log.warning(
                "shared detector exited with code %s; restarting in %.1fs (cameras count with their own copy)",
                d.process.exitcode,
                d.backoff,
            )
            d.process = None
        if d.process is None and now >= d.next_start and not self._stop.is_set():
            d.ready = _CTX.Event()
            d.process = _CTX.Process(
                target=_detector_worker,
                name="shared-detector",
                args=(blob, d.address, self._logs, self._stop_evt, d.ready),
                daemon=True,
            )
            d.process.start()

    def _start_detector(self, blob: bytes, wait_s: float = 60.0) -> None:
        """Start the shared detector and wait until it listens: cameras started before would each load
        their own copy of the model."""
        d = self._detector
        assert d is not None
        self._supervise_detector(blob, time.monotonic())
        deadline = time.monotonic() + wait_s
        while not d.ready.wait(0.2):
            if not d.process.is_alive() or time.monotonic() > deadline:
                log.warning("the shared detector did not start; cameras start with their own copy of the model")
                return

    def _detector_health(self) -> dict[str, Any] | None:
        d = self._detector
        if d is None:
            return None
        alive = bool(d.process is not None and d.process.is_alive())
        return {"alive": alive, "restarts": d.restarts, "pid": d.process.pid if alive else None}

    def _stop_detector(self, grace_s: float = 5.0) -> None:
        d = self._detector
        assert d is not None
        self._stop_evt.set()  # the cameras have stopped (or are stopping): the detector goes last
        if d.process is not None:
            d.process.join(grace_s)
            if d.process.is_alive():
                d.process.kill()
                d.process.join()
        d.address.remove()

    def _drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg: WorkerMessage = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            w = self._workers[msg.camera]
            match msg:
                case StatsMessage():
                    with self._lock:
                        w.stats = msg.stats
                    self._progress(msg.camera, msg.index, msg.total)
                case FrameMessage():
                    self.live.put(msg.camera, msg.jpeg)
                case DoneMessage():
                    w.result = msg.result

    def _progress(self, camera: str, index: int, total: int) -> None:
        if not self.opts.progress or not total:
            return
        from tqdm import tqdm

        bar = self._bars.get(camera)
        if bar is None:
            bar = self._bars[camera] = tqdm(
                total=total, desc=camera, unit="frame", position=len(self._bars), dynamic_ncols=True, disable=None
            )
        bar.n = min(index, total)
        stats = self._workers[camera].stats
        bar.set_postfix_str(f"{stats.fps:.1f} fps" if stats else "", refresh=True)

    def _shutdown(self, grace_s: float = 10.0) -> None:
        log.info("stopping: asking camera workers to checkpoint and exit")
        self._stop_evt.set()
        deadline = time.monotonic() + grace_s
        for w in self._workers.values():
            if w.process is not None:
                w.process.join(max(0.1, deadline - time.monotonic()))
                if w.process.is_alive():
                    w.process.kill()
            w.done = True
