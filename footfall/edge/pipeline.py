"""The per-frame loop of one camera: detect → track → count → store.

Collaborators come in as arguments, so a recorded clip replays deterministically in tests and the
same loop runs inside a camera worker process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from footfall.edge.build import CameraPipeline
from footfall.edge.counting import CounterStateError
from footfall.edge.detectors import Detector
from footfall.edge.model_watch import ClassesChanged
from footfall.edge.sources import Frame, source_kind
from footfall.edge.store import CountStore
from footfall.edge.tracking import TrackerStateError
from footfall.edge.types import CrossingEvent, CrossingKey, Detections, Tracks

log = logging.getLogger(__name__)


@dataclass
class CameraStats:
    """Cumulative figures of one camera, sent to the metrics endpoint."""

    camera: str
    frames: int = 0
    fps: float = 0.0
    dropped_frames: int = 0
    reconnects: int = 0
    crossings: dict[CrossingKey, int] = field(default_factory=dict)
    model_version: str = ""
    model_sha256: str = ""
    last_frame_wall: float = 0.0
    # live sources: seconds from a frame's arrival to the end of its counting, over recent frames
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    detector_share: float = 1.0  # share of recent frames the detector ran on (edge.rate)
    # where its network runs: "shared" (the device's detector), "own" (its own copy: configured, or the
    # shared one did not answer), and how often it had to fall back to its own copy
    detector_placement: str = "own"
    detector_fallbacks: int = 0

    def add(self, events: list[CrossingEvent]) -> None:
        for e in events:
            key = CrossingKey.of(e)
            self.crossings[key] = self.crossings.get(key, 0) + 1


@dataclass(frozen=True)
class RunResult:
    session: str
    frames: int
    seconds: float
    resumed_from: int
    finished: bool
    restart: bool = False  # the model changed its classes: run the camera again to count with them


def session_id(camera: str, source: str, config_fingerprint: str) -> str:
    """Files get a stable session (so a restart resumes it); live sources a new one per start."""
    if source_kind(source) == "file" and os.path.exists(source):
        st = os.stat(source)
        key = f"{camera}|{Path(source).resolve()}|{st.st_size}|{int(st.st_mtime)}|{config_fingerprint}"
        return "f-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"l-{camera}-{int(time.time() * 1000)}-{os.getpid()}"


def latest_only(frames: Iterator[Frame], stats: CameraStats, stop: threading.Event) -> Generator[Frame, None, None]:
    """Decode a live source on its own thread and hand over only the newest frame.

    A slow frame loop then drops frames (counted) instead of falling ever further behind real time.
    The reader stops with ``stop`` or when the loop leaves (``--max-frames``), at its next frame.
    """
    slot: queue.Queue[Frame | None] = queue.Queue(maxsize=1)
    done = threading.Event()

    def offer(item: Frame | None) -> None:
        try:
            slot.put_nowait(item)
        except queue.Full:
            try:
                slot.get_nowait()
                if item is not None:
                    stats.dropped_frames += 1
            except queue.Empty:
                pass
            slot.put_nowait(item)

    def reader() -> None:
        try:
            for frame in frames:
                offer(frame)
                if stop.is_set() or done.is_set():
                    break
        finally:
            offer(None)  # never blocks: the end replaces an unread frame

    threading.Thread(target=reader, name="frame-reader", daemon=True).start()
    try:
        while (item := slot.get()) is not None:
            yield item
    finally:
        done.set()


def read_ahead(frames: Iterator[Frame], stop: threading.Event, depth: int = 8) -> Generator[Frame, None, None]:
    """Decode a file source on its own thread, up to ``depth`` frames ahead; nothing is dropped.

    Decoding then overlaps inference instead of adding to it. An error of the reader is raised here.
    """
    slot: queue.Queue[Frame | BaseException | None] = queue.Queue(maxsize=depth)
    done = threading.Event()  # the consumer left early: the reader stops instead of blocking

    def put(item: Frame | BaseException | None) -> bool:
        while not done.is_set():
            try:
                slot.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        try:
            for frame in frames:
                if stop.is_set() or not put(frame):
                    break
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)
            return
        put(None)

    threading.Thread(target=reader, name="frame-reader", daemon=True).start()
    try:
        while (item := slot.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        done.set()


def run_camera(
    pipeline: CameraPipeline,
    *,
    camera: str,
    store: CountStore,
    session: str,
    checkpoint_every_s: float = 5.0,
    max_frames: int | None = None,
    stop: threading.Event | None = None,
    stats: CameraStats | None = None,
    on_progress: Callable[[CameraStats, int], None] | None = None,
    on_tracks: Callable[[Frame, Detections, Tracks], object] | None = None,
    reload_detector: Callable[[], Detector | None] | None = None,
) -> RunResult:
    """Count one camera until its source ends, ``max_frames`` were processed, or ``stop`` is set.

    A file source resumes from the session's checkpoint with the tracker and counter state stored
    there, so the final counts equal those of an uninterrupted run.
    """
    detector, tracker, counter, source = pipeline.detector, pipeline.tracker, pipeline.counter, pipeline.source
    rate = pipeline.rate
    stop = stop or threading.Event()
    stats = stats or CameraStats(camera)
    stats.model_version, stats.model_sha256 = detector.model_version, detector.sha256
    state = store.open_session(session, camera, source.uri, source.start_ts)
    if state.finished:
        store.restart_session(session)
        state = store.open_session(session, camera, source.uri, source.start_ts)
    source.start_ts = state.started_ts
    skip = state.next_frame if source.kind == "file" else 0
    if skip and state.tracker_state and state.counter_state:
        fresh = counter.get_state(), tracker.get_state()
        try:
            counter.set_state(state.counter_state)
            tracker.set_state(state.tracker_state)
            log.info("camera %s: resuming session %s at frame %d", camera, session, skip)
        except (CounterStateError, TrackerStateError) as exc:
            # a checkpoint of an older version (a pickled counter, boxmot's tracker): never
            # unpickled; the file is counted again from its start, by a counter and tracker that
            # start afresh, and the stored crossings deduplicate the replay
            counter.set_state(fresh[0])
            tracker.set_state(fresh[1])
            log.warning(
                "camera %s: checkpoint of session %s not resumable (%s); counting from frame 0", camera, session, exc
            )
            skip = 0
    elif skip:
        skip = 0

    frames = source.frames(skip=skip)
    frames = read_ahead(frames, stop) if source.kind == "file" else latest_only(frames, stats, stop)

    t0 = time.perf_counter()
    processed = 0
    last_ckpt_ts: float | None = None
    next_frame = skip
    ema_dt = 0.0
    tick = time.perf_counter()
    latencies: deque[float] = deque(maxlen=256)
    recent_due: deque[bool] = deque(maxlen=256)
    finished = False
    restart = False
    for frame in frames:
        try:
            new = reload_detector() if reload_detector is not None else None
        except ClassesChanged:
            restart = True  # every crossing so far is committed below; the camera starts again
            break
        if new is not None:
            detector = new  # between two frames: tracks, counts and pending U-turns carry on
            stats.model_version, stats.model_sha256 = detector.model_version, detector.sha256
        # an empty scene is detected only a few times a second (edge.rate); between, nobody is there
        due = rate.due(frame.ts, frame.image)
        detections = detector.detect(frame.image) if due else Detections.empty(len(detector.class_names))
        tracks = tracker.update(detections, frame.image)
        rate.saw(frame.ts, len(detections) > 0 or len(tracks) > 0)
        events = counter.update(tracks, frame.ts, frame.index, detections, frame.image.shape[:2])
        if on_tracks:
            on_tracks(frame, detections, tracks)
        next_frame = frame.index + 1
        processed += 1
        checkpoint = None
        if last_ckpt_ts is None:
            last_ckpt_ts = frame.ts
        if source.kind == "file" and frame.ts - last_ckpt_ts >= checkpoint_every_s:
            checkpoint = (next_frame, tracker.get_state(), counter.get_state())
            last_ckpt_ts = frame.ts
        if events or checkpoint:
            store.commit(session, events, model_version=detector.model_version, checkpoint=checkpoint)
            stats.add(events)
        now = time.perf_counter()
        dt, tick = now - tick, now
        ema_dt = dt if ema_dt == 0 else 0.9 * ema_dt + 0.1 * dt
        stats.frames += 1
        stats.fps = 1.0 / ema_dt if ema_dt > 0 else 0.0
        recent_due.append(due)
        if source.kind != "file":
            latencies.append(time.time() - frame.ts)
        if stats.frames % 16 == 0:
            stats.detector_share = sum(recent_due) / len(recent_due)
            if latencies:
                stats.latency_p50_s, stats.latency_p95_s = (float(q) for q in np.quantile(latencies, [0.5, 0.95]))
        stats.reconnects = source.reconnects
        stats.last_frame_wall = time.time()
        if on_progress:
            on_progress(stats, frame.index)
        if max_frames is not None and processed >= max_frames:
            break
        if stop.is_set():
            break
    else:
        finished = source.kind == "file" and not stop.is_set()
    frames.close()  # the reader thread stops now, not when the generator is collected

    if stop.is_set() and not finished and not restart:
        # Graceful stop: keep pending U-turn crossings in the counter state for the resume.
        store.commit(session, [], checkpoint=(next_frame, tracker.get_state(), counter.get_state()))
    else:
        tail = counter.flush()
        store.commit(
            session,
            tail,
            model_version=detector.model_version,
            checkpoint=(next_frame, tracker.get_state(), counter.get_state()),
            finished=finished,
        )
        stats.add(tail)
    return RunResult(session, processed, time.perf_counter() - t0, skip, finished, restart)
