"""The harvest's configuration: where captures are, how many frames to choose and how, the project."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from footfall.common.classes import PRODUCT_CLASSES
from footfall.common.config import Section, load_section, resolve_file_url, resolve_path
from footfall.harvest.select import STRATEGIES
from footfall.labeling.config import StudioSettings


class HarvestConfig(Section):
    captures: str = Field(..., description="Where the stores upload captures: file://PATH or s3://BUCKET/PREFIX.")
    classes: list[str] = Field(
        default_factory=lambda: list(PRODUCT_CLASSES), min_length=1, description="Product classes."
    )
    class_map: dict[str, str] = Field(
        default_factory=dict,
        description="Class of the capturing model → project class, for a model without the product classes (the "
        "COCO bootstrap model's person): its boxes are scored and pre-annotated under that class, which "
        "annotators correct. Boxes of other classes are left out and counted in the report.",
    )
    strategy: str = Field("balanced", description=f"One of {sorted(STRATEGIES)}.")
    budget: int = Field(200, ge=0, description="Frames pushed per window.")
    per_store: int | None = Field(None, ge=1, description="At most this many frames per store.")
    per_camera: int | None = Field(None, ge=1, description="At most this many frames per camera.")
    background_share: float = Field(0.1, ge=0, le=1, description="Share of the budget for frames without boxes.")
    near_duplicate_bits: int = Field(6, ge=-1, le=64, description="dHash distance counted as a duplicate (-1: off).")
    conf_threshold: float = Field(0.25, gt=0, lt=1, description="The devices' detection threshold.")
    seed: int = Field(0, description="Seed of the selection's tie-breaking.")
    push_batch: int = Field(25, ge=1, le=1000, description="Tasks per import request.")
    report_dir: Path = Field(Path("runs/harvest"), description="Selections and reports, one per window.")
    studio: StudioSettings

    @model_validator(mode="after")
    def _strategy(self) -> HarvestConfig:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; available: {', '.join(sorted(STRATEGIES))}")
        unknown = sorted(v for v in self.class_map.values() if v not in self.classes)
        if unknown:
            raise ValueError(f"class_map maps to {unknown}, which are not among classes {self.classes}")
        return self

    def project_class(self, model_class: str) -> str | None:
        """The project class a captured box of ``model_class`` is scored and pre-annotated as (None: left out)."""
        cls = self.class_map.get(model_class, model_class)
        return cls if cls in self.classes else None


def load_harvest_config(path: Path) -> HarvestConfig:
    """The ``harvest:`` section of ``path``; relative paths resolve against the file's folder."""
    cfg = load_section(Path(path), "harvest", HarvestConfig)
    base = Path(path).resolve().parent
    return cfg.model_copy(
        update={
            "captures": resolve_file_url(cfg.captures, base),
            "report_dir": resolve_path(cfg.report_dir, base),
            "studio": cfg.studio.model_copy(update={"files_root": resolve_path(cfg.studio.files_root, base)}),
        }
    )
