"""Retraining configuration: one YAML file, validated like the edge config (``extra="forbid"``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from footfall.common.classes import PRODUCT_CLASSES
from footfall.common.config import Section, load_section, resolve_file_url, resolve_path
from footfall.edge.detectors.quantize import MIN_CALIBRATION_FRAMES
from footfall.registry.artefacts import Ref, RegistryError
from footfall.registry.signing import KEYGEN_HINT, SigningSettings

# the original ultralytics/yolov5 v6.1 yolov5n.pt (../shared/data/README.md): a pickle, loaded only if it is this file
YOLOV5N_SHA256 = "4f180cf23ba0717ada0badd6c685026d73d48f184d00fc159c2641284b2ac0a3"

PACKAGED_HYP = Path(__file__).parent / "hyp" / "finetune-v1.yaml"


class TrainSettings(Section):
    python: Path | None = Field(
        None,
        description="Python of the training environment (yolov5 7.0.14). Unset: .venv-train/bin/python beside "
        "this installation, which scripts/setup.sh builds.",
    )
    hyp: Path = Field(PACKAGED_HYP, description="Hyperparameter YAML; its name and SHA-256 go into the metadata.")
    epochs: int = Field(30, ge=1, le=1000, description="Training epochs.")
    batch: int = Field(16, ge=1, le=1024, description="Total batch size (split over GPUs).")
    imgsz: int = Field(640, ge=160, le=1920, multiple_of=32, description="Training image size, px.")
    device: str = Field("cpu", description="cpu, a GPU index (0) or several (0,1,2,3: torch distributed training).")
    workers: int = Field(2, ge=0, le=64, description="Data-loader workers per process.")
    seed: int = Field(0, ge=0, description="Seed for every random generator (deterministic runs).")
    image_weights: bool = Field(
        True, description="Sample images by the rarity of their classes (fights the majority class)."
    )
    freeze: int = Field(0, ge=0, le=24, description="Freeze the first N layers (10 = the backbone).")
    checkpoint: Literal["best", "last"] = Field(
        "best",
        description="Which epoch's weights become the candidate: best (yolov5's fitness on the training set's "
        "val split) or last (the end of the schedule; where val is the training images, best can be an "
        "early epoch that learnt nothing new).",
    )
    seed_from: dict[str, str] = Field(
        default_factory=dict,
        description="New class → parent class its detection head starts from (default: the same name, else 'person').",
    )
    timeout_s: int = Field(
        6 * 3600, ge=5, description="Give up on a training run after this long (its process is killed, silent or not)."
    )

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value != "cpu" and not all(p.strip().isdigit() for p in value.split(",")):
            raise ValueError(f"{value!r}: use cpu, 0, or a list such as 0,1")
        return value

    @property
    def gpus(self) -> int:
        return 0 if self.device == "cpu" else len(self.device.split(","))


class SequenceSettings(Section):
    """A labelled video scored for tracking and counting (the store owner's numbers)."""

    name: str = Field(..., description="Label in reports.")
    video: Path = Field(..., description="Video file.")
    gt: Path = Field(..., description="MOTChallenge ground truth of the video (frame, id, x, y, w, h, flag…).")
    lines: dict[str, list[float]] = Field(..., description="Line name → [x1, y1, x2, y2] in source pixels.")
    max_frames: int | None = Field(None, ge=1, description="Score only the first N frames.")
    identity_classes: Path | None = Field(
        None,
        description="CSV id,class,confidence,cue of the ground truth's identities: counts are also scored per "
        "class (an 'unsure' identity counts as the class its cue leans to).",
    )

    @field_validator("lines")
    @classmethod
    def _lines(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for name, coords in value.items():
            if len(coords) != 4:
                raise ValueError(f"line {name!r}: expected [x1, y1, x2, y2], got {coords}")
        return value


class EvalSettings(Section):
    input_size: int = Field(640, ge=160, le=1920, multiple_of=32, description="Detector input size, px.")
    conf_threshold: float = Field(
        0.4, gt=0, lt=1, description="The threshold the devices run with (precision/recall are reported at it)."
    )
    latency_images: int = Field(20, ge=1, le=1000, description="Images timed for the CPU latency figure.")
    device_config: Path | None = Field(
        None,
        description="The edge configuration the stores run: the sequences are counted with its tracker, "
        "counting and detector settings (its model.input_size and model.conf_threshold must equal the two "
        "above). Required with sequences.",
    )
    baseline_class_map: dict[str, str] | None = Field(
        None,
        description="For a baseline model without the product classes (the COCO checkpoint): model class → "
        "product class, e.g. {person: male_adult}.",
    )
    sequences: list[SequenceSettings] = Field(
        default_factory=list, description="Labelled videos for tracking (MOTA, IDF1) and count accuracy."
    )

    @model_validator(mode="after")
    def _device(self) -> EvalSettings:
        if self.sequences and self.device_config is None:
            raise ValueError(
                "sequences are counted as the stores count them: set evaluation.device_config to the edge "
                "configuration the devices run (e.g. ../configs/sample.yaml)"
            )
        return self


class GateSettings(Section):
    metric: Literal["map50", "map50_95"] = Field("map50", description="Headline metric the candidate must improve.")
    min_improvement: float = Field(
        0.005, ge=0, le=1, description="Candidate must beat production by at least this much (absolute)."
    )
    max_class_regression: float = Field(
        0.02, ge=0, le=1, description="No class's AP@0.5 may drop by more than this (absolute)."
    )
    max_count_error_increase: float | None = Field(
        None,
        ge=0,
        description="If set: mean count error (%) over the sequences may not rise by more than this (one crossing "
        "more wrong is always tolerated: on a short sequence it alone moves the mean by several points).",
    )
    promote_to: str = Field("canary", description="Alias moved to an accepted candidate.")


class ReleaseSettings(Section):
    canary_health: list[str] = Field(
        default_factory=list,
        description="The /health URLs of the canary stores (http://HOST:9108/health) watched during the burn-in.",
    )
    burn_in_s: float = Field(3600, ge=0, description="How long the canary stores must run the candidate well.")
    check_every_s: float = Field(60, gt=0, description="Time between two health checks of the burn-in.")
    min_fps: float = Field(5.0, ge=0, description="Every camera of every canary must keep at least this fps.")
    max_count_error_increase: float = Field(
        1.0,
        ge=0,
        description="On the gate's labelled sequences, the candidate's mean count error (%) may exceed the "
        "replaced model's by at most this (one crossing more wrong is always tolerated: on a short sequence "
        "it alone moves the mean by several points).",
    )
    from_alias: str = Field("canary", description="Alias of the candidate under burn-in.")
    to_alias: str = Field("production", description="Alias the candidate is released to.")


class RetrainConfig(Section):
    registry: str = Field("file://runs/registry", description="Registry of models and datasets (file:// or s3://).")
    model_name: str = Field("people", description="Model name in the registry.")
    classes: list[str] = Field(
        default_factory=lambda: list(PRODUCT_CLASSES),
        min_length=1,
        description="Classes of the trained model (the datasets' classes must be among them).",
    )
    train_datasets: list[str] = Field(
        ..., min_length=1, description="Dataset versions (NAME or NAME:N) merged for training: base + new labels."
    )
    heldout: str = Field(..., description="Fixed held-out dataset version NAME:N; its val/test splits are scored.")
    heldout_fingerprint: str | None = Field(
        None, description="If set, the held-out version must have this fingerprint (pins the exact files)."
    )
    parent: str = Field(
        "production", description="Alias or version (v3) of model_name to fine-tune from and compare against."
    )
    base_weights: Path = Field(
        Path("../shared/data/weights/yolov5n.pt"),
        description="Original YOLOv5 checkpoint used as parent and baseline while the alias is unset.",
    )
    base_weights_sha256: str = Field(
        YOLOV5N_SHA256,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 base_weights must have: a checkpoint is a pickle, and an unknown one is never loaded.",
    )
    signing: SigningSettings | None = Field(
        None,
        description="sign_key signs every published candidate; verify_key checks the parent fetched from the "
        "registry (the stores hold the same public key).",
    )
    precision: Literal["fp32", "int8"] = Field(
        "fp32",
        description="The network the stores run. int8: the candidate is also quantized (calibrated on "
        "calibration_frames images of its own training set, the stores' frames; the detection head stays FP32) "
        "and published as model-int8.onnx beside model.onnx, and the gate judges the INT8 network against the "
        "parent's INT8 one (its FP32 one when it has none): what the stores would run against what they run. "
        "Set footfall_edge_model_file: model-int8.onnx for the stores group in the inventory.",
    )
    calibration_frames: int = Field(
        40, ge=MIN_CALIBRATION_FRAMES, le=2000, description="Training images that set the INT8 ranges."
    )
    work_dir: Path = Field(Path("runs/retrain"), description="Scratch space for datasets, runs and exports.")
    train: TrainSettings = Field(default_factory=TrainSettings)
    evaluation: EvalSettings = Field(default_factory=EvalSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    release: ReleaseSettings = Field(default_factory=ReleaseSettings)

    @model_validator(mode="after")
    def _refs(self) -> RetrainConfig:
        try:
            refs = [Ref.parse(ref) for ref in self.train_datasets]
            held = Ref.parse(self.heldout)
        except RegistryError as exc:
            raise ValueError(str(exc)) from None
        aliased = [str(r) for r in [*refs, held] if r.alias is not None]
        if aliased:
            raise ValueError(f"{aliased}: datasets have no aliases; name them NAME or NAME:N")
        if held.version is None:
            raise ValueError(f"heldout {self.heldout!r} must name a version (NAME:N): evaluation never uses 'latest'")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes {self.classes} repeat a name")
        if self.signing is None:
            raise ValueError(
                "signing is not set: candidates are signed and the parent verified. Fix: signing: {sign_key: "
                f"registry.key, verify_key: registry.pub}} ({KEYGEN_HINT}), or signing: {{allow_unsigned: true}} "
                "on a development machine"
            )
        return self


def load_retrain_config(path: Path, overrides: dict[str, Any] | None = None) -> RetrainConfig:
    """Parse and validate ``path`` (its ``retrain:`` section, or the whole file); relative paths are
    resolved against the file's folder. ``ConfigError`` lists every problem with its key path."""
    cfg = load_section(Path(path), "retrain", RetrainConfig, whole_file_ok=True, overrides=overrides)
    return resolve_paths(cfg, Path(path).resolve().parent)


def resolve_paths(cfg: RetrainConfig, base: Path) -> RetrainConfig:
    def res(p: Path) -> Path:
        return resolve_path(p, base)

    registry = resolve_file_url(cfg.registry, base)
    train = cfg.train.model_copy(
        update={"hyp": res(cfg.train.hyp), "python": res(cfg.train.python) if cfg.train.python else None}
    )
    sequences = [
        s.model_copy(
            update={
                "video": res(s.video),
                "gt": res(s.gt),
                "identity_classes": res(s.identity_classes) if s.identity_classes else None,
            }
        )
        for s in cfg.evaluation.sequences
    ]
    device = cfg.evaluation.device_config
    signing = cfg.signing
    if signing is not None:
        signing = signing.model_copy(
            update={k: res(v) for k in ("sign_key", "verify_key") if (v := getattr(signing, k)) is not None}
        )
    return cfg.model_copy(
        update={
            "registry": registry,
            "signing": signing,
            "base_weights": res(cfg.base_weights),
            "work_dir": res(cfg.work_dir),
            "train": train,
            "evaluation": cfg.evaluation.model_copy(
                update={"sequences": sequences, "device_config": res(device) if device else None}
            ),
        }
    )
