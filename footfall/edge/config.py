"""The edge configuration: one YAML file, validated by pydantic, one model per section.

Config models do no I/O. ``load_config`` reads the file, resolves relative paths against the
file's folder and turns validation errors into ``ConfigError`` lines naming the key path.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PositiveInt, ValidationError, field_validator, model_validator

from footfall.common.chain import MAX_BATCH
from footfall.common.classes import PRODUCT_CLASSES
from footfall.common.config import (
    NAME_PATTERN,
    ConfigError,
    Section,
    read_yaml,
    repeated,
    resolve_file_url,
    validation_problems,
)
from footfall.common.geometry import Anchor
from footfall.common.lines import LineConfig
from footfall.edge.tracking import TRACKERS, tracker_defaults


class CameraConfig(Section):
    name: str = Field(pattern=NAME_PATTERN, description="Camera name, unique (letters, digits, _ . -).")
    source: str = Field(min_length=1, description="Video file, rtsp://, http(s):// URL, or USB index.")
    lines: list[LineConfig] = Field(min_length=1, description="Counting lines of this camera.")
    start_time: float | None = Field(
        None,
        description="Epoch seconds of the first frame of a file source (default: the file's modification time "
        "minus its duration, i.e. when the recording started).",
    )
    enabled: bool = Field(True, description="Set false to keep a camera in the file without running it.")
    frame_size: tuple[PositiveInt, PositiveInt] | None = Field(
        None,
        description="[width, height] of the picture the lines are drawn on. Frames of another size (the camera's "
        "stream profile changed) are scaled to it, so lines and counts carry on. Default: the first frame's size.",
    )

    @model_validator(mode="after")
    def _unique_lines(self) -> CameraConfig:
        dupes = repeated([line.name for line in self.lines])
        if dupes:
            raise ValueError(f"line names must be unique per camera; repeated: {dupes}. Fix: rename one")
        return self


class ModelConfig(Section):
    path: Path = Field(Path("models/yolov5n.onnx"), description="Detector weights: .onnx or original .pt.")
    backend: Literal["auto", "onnx", "torch"] = Field(
        "auto", description="auto = by file extension (.onnx → onnx, .pt → torch)."
    )
    classes: list[str] = Field(
        default_factory=lambda: list(PRODUCT_CLASSES), min_length=1, description="Product classes counted."
    )
    class_map: dict[str, str] | None = Field(
        None,
        description="Model class → product class, e.g. {person: male_adult} for a COCO model. "
        "Unset: classes are matched by name; a COCO model then counts its 'person' class as 'person'.",
    )
    model_names: list[str] | None = Field(None, description="Class names, for an ONNX file that has none.")
    input_size: int = Field(640, ge=160, le=1920, multiple_of=32, description="Long side of the input, px.")
    conf_threshold: float = Field(0.25, gt=0, lt=1, description="Minimum detection confidence.")
    iou_threshold: float = Field(0.45, gt=0, lt=1, description="NMS IoU threshold.")
    max_det: int = Field(300, ge=1, le=3000, description="Maximum detections per frame.")
    providers: list[str] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        description="ONNX Runtime providers in order of preference (Jetson: TensorrtExecutionProvider, "
        "CUDAExecutionProvider, CPUExecutionProvider). Unavailable ones are skipped.",
    )
    threads: int = Field(0, ge=0, le=64, description="Intra-op threads (0 = runtime default).")
    sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$", description="Refuse a file that differs.")
    sharing: Literal["auto", "device", "camera"] = Field(
        "auto",
        description="device: one detector process serves every camera of the device, running their pictures "
        "in batches (ONNX models; model.threads batches run side by side, one core each, 0 = one per core); "
        "camera: each camera process loads its own copy; auto: device when two or more cameras are enabled "
        "and the model is ONNX.",
    )
    batch_max: int = Field(8, ge=1, le=64, description="Most pictures the shared detector runs at once.")
    batch_wait_ms: float = Field(
        0.0,
        ge=0,
        le=100,
        description="How long the shared detector waits for more pictures after the first. 0: it runs what is "
        "waiting (no added latency; batching gains nothing on a CPU); a GPU gains from a few ms.",
    )
    shared_timeout_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="A camera that waits longer than this for the shared detector counts on with its own copy "
        "of the model, and tries the shared one again 10 s later.",
    )

    # where the detector runs, not what it finds: kept out of a camera's fingerprint
    PLACEMENT: ClassVar[set[str]] = {"sharing", "batch_max", "batch_wait_ms", "shared_timeout_s"}

    @model_validator(mode="after")
    def _sharable(self) -> ModelConfig:
        if self.sharing == "device" and self.resolved_backend() != "onnx":
            raise ValueError(
                f"sharing: device needs an ONNX model; {self.path} runs on the {self.resolved_backend()} backend. "
                "Fix: set model.sharing to camera, or export the model with 'footfall edge export-onnx'"
            )
        return self

    def resolved_backend(self) -> str:
        if self.backend != "auto":
            return self.backend
        return "torch" if self.path.suffix in (".pt", ".pth") else "onnx"

    def shared(self, cameras: int) -> bool:
        """Whether a device running ``cameras`` cameras gives them one shared detector."""
        if self.sharing == "auto":
            return cameras >= 2 and self.resolved_backend() == "onnx"
        return self.sharing == "device"


class TrackerConfig(Section):
    name: str = Field("auto", description=f"One of {sorted(TRACKERS)}, or auto (strongsort with ReID weights).")
    reid_weights: Path | None = Field(None, description="OSNet ReID weights (.pt or .onnx), local path.")
    params: dict[str, Any] = Field(default_factory=dict, description="Overrides of the tracker's YAML defaults.")
    threads: int = Field(0, ge=0, le=64, description="Threads for the ReID network (0 = runtime default).")
    stitch_max_gap_frames: int = Field(
        50,
        ge=0,
        le=10_000,
        description="Re-link a track lost for at most this many frames to a new one that appears where it "
        "was heading (occlusions). 0 = off.",
    )

    @model_validator(mode="after")
    def _known(self) -> TrackerConfig:
        if self.name != "auto" and self.name not in TRACKERS:
            raise ValueError(f"unknown tracker {self.name!r}; available: {', '.join(sorted(TRACKERS))}, auto")
        if self.name == "strongsort" and self.reid_weights is None:
            raise ValueError("strongsort needs reid_weights. Fix: set tracker.reid_weights or use bytetrack")
        unknown = sorted(set(self.params) - set(tracker_defaults(self.resolved_name())))
        if unknown:
            raise ValueError(f"unknown params {unknown} for tracker {self.resolved_name()!r}")
        return self

    def resolved_name(self) -> str:
        if self.name != "auto":
            return self.name
        return "strongsort" if self.reid_weights is not None else "bytetrack"


class CountingConfig(Section):
    hysteresis_px: float = Field(3.0, ge=0, le=200, description="Half-width of the no-change band, px.")
    uturn_window_s: float = Field(2.0, ge=0, le=600, description="Reversal within this is a U-turn (0 = off).")
    forget_after_s: float = Field(10.0, gt=0, le=3600, description="Drop a track unseen for this long.")
    anchor: Anchor = Field(Anchor.BOTTOM_CENTER, description="Box point that decides the side.")
    entry_backtrack_s: float = Field(
        1.5,
        ge=0,
        le=10,
        description="A track first seen away from the picture's edge came out of an occlusion: its first "
        "motion is run back this long and a line crossed there is counted (0 = off).",
    )
    confirm_share: float = Field(
        0.1,
        ge=0,
        le=2,
        description="A crossing counts once the person's foot is this share of their box height beyond the "
        "line (or the track is lost there); back over the line before that, neither step counts — jitter of "
        "a box at the line, scaled to the person's size in the picture (0 = count at once).",
    )

    @model_validator(mode="after")
    def _window(self) -> CountingConfig:
        if self.forget_after_s <= self.uturn_window_s:
            raise ValueError(
                f"forget_after_s ({self.forget_after_s}) must exceed uturn_window_s ({self.uturn_window_s}). "
                "Fix: raise counting.forget_after_s"
            )
        return self


class StorageConfig(Section):
    db: Path = Field(Path("footfall.db"), description="SQLite file for crossings and checkpoints.")
    checkpoint_every_s: float = Field(5.0, gt=0, le=3600, description="Resume point spacing, source seconds.")
    reid_cache_dir: Path | None = Field(None, description="Where ReID .pt → .onnx exports are cached.")


class SyncConfig(Section):
    url: str | None = Field(
        None, description="Upload target: s3://BUCKET/PREFIX or file://PATH. Unset: nothing leaves the device."
    )
    store: str = Field("store", pattern=NAME_PATTERN, description="Store id in the upload keys (captures/STORE/...).")
    every_s: float = Field(0, ge=0, le=86400, description="Upload period while running (0 = only 'edge sync').")


class CentralConfig(Section):
    url: str | None = Field(
        None,
        description="The chain's central store (https://HOST:PORT of 'footfall central serve'). Unset: the counts stay "
        "on the device.",
    )
    device: str = Field("device", pattern=NAME_PATTERN, description="This device's name in the central catalogue.")
    token: str | None = Field(
        None,
        description="This device's token from 'footfall central device add' (or FOOTFALL_CENTRAL_TOKEN; keep the "
        "config 0640).",
    )
    ca_file: Path | None = Field(None, description="PEM CA bundle to verify the central store's certificate.")
    every_s: float = Field(60, gt=0, le=86400, description="Shipping period of 'edge ship --every'.")
    batch: int = Field(MAX_BATCH, ge=1, le=MAX_BATCH, description="Crossings per request.")


class CaptureConfig(Section):
    enabled: bool = Field(False, description="Save frames, YOLO labels and MOT tracks for the flywheel.")
    dir: Path = Field(Path("spool"), description="Spool folder on the device.")
    quota_mb: float = Field(2048, gt=0, description="Disk quota of the spool; the oldest items are evicted.")
    retention_days: float = Field(14, gt=0, description="Captured items older than this are deleted.")
    jpeg_quality: int = Field(90, ge=30, le=100, description="JPEG quality of saved frames.")
    max_per_minute: float = Field(6, gt=0, le=600, description="Rate limit of saved frames per camera.")
    min_gap_s: float = Field(2.0, ge=0, description="Never save two near-identical frames closer than this.")
    similar_below: float = Field(
        3.0,
        ge=0,
        description="Mean absolute difference (0-255) of 32×32 thumbnails under which frames are near-identical.",
    )
    informative_conf: tuple[float, float] = Field(
        (0.25, 0.6), description="A detection with confidence in this band is borderline: its frame is informative."
    )
    crowd: int = Field(6, ge=1, description="A frame with at least this many people is informative.")
    background_share: float = Field(0.1, ge=0, le=1, description="Probability of saving a frame with no detection.")
    random_share: float = Field(0.05, ge=0, le=1, description="Probability of saving an unremarkable frame.")
    blur_heads: bool = Field(False, description="Blur the head region (top fifth) of every detected person.")
    tracks: bool = Field(True, description="Write every track of every frame in MOT format.")
    seed: int = Field(0, description="Seed of the sampling randomness (reproducible captures).")
    sync: SyncConfig = Field(default_factory=lambda: SyncConfig())


class MetricsConfig(Section):
    host: str = Field("127.0.0.1", description="Bind address of /metrics, /health and the live view.")
    port: int = Field(9108, ge=0, le=65535, description="0 disables the HTTP endpoint (and the live view).")
    live: bool = Field(
        True,
        description="Serve the annotated live view at /live/CAMERA.mjpg while someone watches (frames are "
        "drawn and encoded only then, and never stored). Beyond loopback it needs dashboard.token.",
    )
    live_fps: float = Field(5.0, gt=0, le=30, description="Frames per second of the live view.")


class DashboardConfig(Section):
    host: str = Field("127.0.0.1", description="Bind address of 'footfall serve'. Beyond loopback a token is required.")
    port: int = Field(8080, ge=1, le=65535, description="Port of the dashboard.")
    token: str | None = Field(
        None,
        min_length=16,
        description="Access token of the dashboard, its API and the edge live view (header "
        "'Authorization: Bearer TOKEN' or the sign-in page). Default: $FOOTFALL_DASHBOARD_TOKEN.",
    )
    timezone: str | None = Field(
        None, description="IANA time zone of the store, e.g. Europe/Berlin (default: the machine's)."
    )
    interval_minutes: int = Field(15, description="Default chart interval: 5, 10, 15, 30 or 60 minutes.")
    opening_hour: int = Field(
        0, ge=0, le=23, description="Local hour at which occupancy resets to zero (the store's day starts)."
    )
    entrances: list[str] = Field(
        default_factory=list,
        description="The door lines, as CAMERA/LINE: their crossings are the store's visitors (headline counts, CSV, "
        "occupancy, visit length). Empty: every line (right for one line per camera; name the doors when a camera "
        "has more, or the same people are counted on each line).",
    )
    max_dwell_h: float = Field(12.0, gt=0, description="An in → out pair further apart than this is no visit.")
    tls_cert: Path | None = Field(
        None,
        description="PEM certificate (chain) of HTTPS for 'footfall serve'; with tls_key. The cookie is then Secure.",
    )
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert.")
    session_epoch: int = Field(
        1, ge=1, description="Raise it to sign every browser out (a lost laptop) without changing the token."
    )
    secure_cookie: bool = Field(
        False,
        description="Mark the sign-in cookie Secure without tls_cert: the dashboard is behind a TLS-terminating "
        "proxy (the browser only ever speaks HTTPS to it).",
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> DashboardConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both (HTTPS) or neither")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r}; give an IANA name such as Europe/Berlin or UTC") from None
        return v

    @field_validator("interval_minutes")
    @classmethod
    def _interval(cls, v: int) -> int:
        if v not in (5, 10, 15, 30, 60):
            raise ValueError("choose 5, 10, 15, 30 or 60")
        return v

    @field_validator("entrances")
    @classmethod
    def _entrances(cls, v: list[str]) -> list[str]:
        for e in v:
            if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", e):
                raise ValueError(f"{e!r}: write an entrance as CAMERA/LINE, e.g. front-door/door")
        return v


class WatchdogConfig(Section):
    backoff_initial_s: float = Field(1.0, gt=0, le=600, description="First restart delay of a failed camera.")
    backoff_max_s: float = Field(60.0, gt=0, le=3600, description="Longest restart delay.")
    max_restarts: int = Field(5, ge=0, le=1000, description="Restarts allowed within restart_window_s.")
    restart_window_s: float = Field(300.0, gt=0, description="Window of the restart-rate limit.")
    reconnect_initial_s: float = Field(0.5, gt=0, le=600, description="First reconnect delay of a stream.")
    reconnect_max_s: float = Field(30.0, gt=0, le=3600, description="Longest reconnect delay of a stream.")


class IdleConfig(Section):
    """How often the detector runs while nobody is in view (the rest of the time: every frame)."""

    after_s: float = Field(
        2.0, ge=0, le=600, description="Nobody detected or tracked for this long: the scene is empty."
    )
    detect_every_s: float = Field(
        0.4,
        ge=0,
        le=5,
        description="While the scene is empty the detector runs this often (the frames between are decoded, "
        "and tracker and counter move on with no detections); the first detection brings back every frame. "
        "0 = detect every frame always.",
    )
    still_every_s: float = Field(
        2.0,
        ge=0,
        le=60,
        description="While the empty scene is also still (its picture has not changed since the detector last "
        "ran: a small grey copy compared pixel by pixel), the detector runs only this often; as soon as "
        "anything moves it is back to detect_every_s. 0 = no stillness check.",
    )


class EdgeConfig(Section):
    cameras: Annotated[list[CameraConfig], Field(min_length=1, description="Cameras of this device.")]
    model: ModelConfig = Field(default_factory=lambda: ModelConfig())
    tracker: TrackerConfig = Field(default_factory=lambda: TrackerConfig())
    counting: CountingConfig = Field(default_factory=lambda: CountingConfig())
    storage: StorageConfig = Field(default_factory=lambda: StorageConfig())
    metrics: MetricsConfig = Field(default_factory=lambda: MetricsConfig())
    watchdog: WatchdogConfig = Field(default_factory=lambda: WatchdogConfig())
    idle: IdleConfig = Field(default_factory=lambda: IdleConfig())
    capture: CaptureConfig = Field(default_factory=lambda: CaptureConfig())
    dashboard: DashboardConfig = Field(default_factory=lambda: DashboardConfig())
    central: CentralConfig = Field(default_factory=lambda: CentralConfig())

    @model_validator(mode="after")
    def _unique_cameras(self) -> EdgeConfig:
        dupes = repeated([c.name for c in self.cameras])
        if dupes:
            raise ValueError(f"camera names must be unique; repeated: {dupes}. Fix: rename one")
        known = {f"{c.name}/{line.name}" for c in self.cameras for line in c.lines}
        unknown = [e for e in self.dashboard.entrances if e not in known]
        if unknown:
            raise ValueError(f"dashboard.entrances names unknown lines {unknown}; known: {sorted(known)}")
        return self

    def fingerprint(self, camera: CameraConfig) -> str:
        """What decides the counts of a camera: a replay with the same fingerprint may dedupe."""
        blob = json.dumps(
            [
                camera.model_dump(mode="json"),
                self.model.model_dump(mode="json", exclude=ModelConfig.PLACEMENT),
                self.tracker.model_dump(mode="json"),
                self.counting.model_dump(mode="json"),
            ],
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def validate_config(data: Any, source: str = "<config>", base_dir: Path | None = None) -> EdgeConfig:
    """Validate parsed YAML; resolve relative paths against ``base_dir``."""
    if not isinstance(data, dict):
        raise ConfigError(source, [f"(top level): expected a mapping with a 'cameras' key, got {type(data).__name__}"])
    try:
        cfg = EdgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc, data)) from None
    return _resolve_paths(cfg, base_dir) if base_dir else cfg


def _resolve_paths(cfg: EdgeConfig, base: Path) -> EdgeConfig:
    sync_url = cfg.capture.sync.url and resolve_file_url(cfg.capture.sync.url, base)

    def res(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else base / p

    cameras = [
        c.model_copy(update={"source": str(base / c.source)}) if _is_relative_file(c.source) else c for c in cfg.cameras
    ]
    return cfg.model_copy(
        update={
            "cameras": cameras,
            "model": cfg.model.model_copy(update={"path": res(cfg.model.path)}),
            "tracker": cfg.tracker.model_copy(update={"reid_weights": res(cfg.tracker.reid_weights)}),
            "storage": cfg.storage.model_copy(
                update={"db": res(cfg.storage.db), "reid_cache_dir": res(cfg.storage.reid_cache_dir)}
            ),
            "capture": cfg.capture.model_copy(
                update={"dir": res(cfg.capture.dir), "sync": cfg.capture.sync.model_copy(update={"url": sync_url})}
            ),
            "dashboard": cfg.dashboard.model_copy(
                update={"tls_cert": res(cfg.dashboard.tls_cert), "tls_key": res(cfg.dashboard.tls_key)}
            ),
        }
    )


def _is_relative_file(source: str) -> bool:
    return not re.match(r"^[a-z]+://", source, re.I) and not source.isdigit() and not Path(source).is_absolute()


def load_config(path: Path) -> EdgeConfig:
    return validate_config(read_yaml(path), str(path), path.resolve().parent)
