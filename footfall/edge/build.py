"""One builder of a camera's detector → tracker → counter chain, from the configuration a device runs.

The service's camera workers, the evaluation on labelled video, the retrain gate and the benchmarks
all build through here, so a count measured anywhere is the count a device produces with that
configuration. Defaults live in the config models (``footfall.edge.config``), nowhere else.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from footfall.edge.config import CameraConfig, EdgeConfig, IdleConfig
from footfall.edge.counting import CrossingCounter
from footfall.edge.detectors import Detector, create_detector
from footfall.edge.rate import DetectionRate
from footfall.edge.sources import VideoSource
from footfall.edge.tracking import Tracker, create_tracker


@dataclass
class CameraPipeline:
    """The collaborators of one camera's frame loop (``footfall.edge.pipeline.run_camera``)."""

    detector: Detector
    tracker: Tracker
    counter: CrossingCounter
    source: VideoSource
    rate: DetectionRate = field(default_factory=lambda: DetectionRate(IdleConfig()))


def build_tracker(cfg: EdgeConfig) -> Tracker:
    return create_tracker(
        cfg.tracker.resolved_name(),
        cfg.tracker.params,
        reid_weights=cfg.tracker.reid_weights,
        reid_cache_dir=cfg.storage.reid_cache_dir or cfg.storage.db.parent / "reid-cache",
        threads=cfg.tracker.threads,
        stitch_max_gap_frames=cfg.tracker.stitch_max_gap_frames,
    )


def build_counter(cfg: EdgeConfig, cam: CameraConfig, class_names: Sequence[str]) -> CrossingCounter:
    return CrossingCounter.from_config(
        cam.name, {line.name: line.to_line() for line in cam.lines}, list(class_names), cfg.counting
    )


def build_source(cfg: EdgeConfig, cam: CameraConfig, stop: threading.Event | None = None) -> VideoSource:
    return VideoSource(
        cam.source,
        start_ts=cam.start_time,
        backoff_initial_s=cfg.watchdog.reconnect_initial_s,
        backoff_max_s=cfg.watchdog.reconnect_max_s,
        stop=stop,
        frame_size=cam.frame_size,
    )


def build_camera(
    cfg: EdgeConfig, cam: CameraConfig, stop: threading.Event | None = None, *, detector: Detector | None = None
) -> CameraPipeline:
    """The chain of camera ``cam`` as configured; ``detector`` reuses one already loaded from ``cfg.model``."""
    detector = detector or create_detector(cfg.model)
    return CameraPipeline(
        detector=detector,
        tracker=build_tracker(cfg),
        counter=build_counter(cfg, cam, detector.class_names),
        source=build_source(cfg, cam, stop),
        rate=DetectionRate(cfg.idle),
    )
