"""The Label Studio project the annotators work in: where it runs, its title, and where frames are put."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from footfall.common.classes import PRODUCT_CLASSES
from footfall.common.config import Section, load_section, resolve_path


class StudioSettings(Section):
    url: str = Field("http://127.0.0.1:8080", description="Label Studio base URL.")
    token_env: str = Field("LABEL_STUDIO_TOKEN", description="Environment variable holding the API token.")
    project: str = Field("footfall people", description="Project title (created with the classes' labelling config).")
    files_root: Path = Field(
        ..., description="Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT; chosen frames are copied below it."
    )


class LabelingProject(Section):
    """The keys of a harvest configuration that the labelling commands need: the classes and the project."""

    classes: list[str] = Field(
        default_factory=lambda: list(PRODUCT_CLASSES), min_length=1, description="Product classes."
    )
    studio: StudioSettings


def load_labeling_project(path: Path) -> LabelingProject:
    """``harvest.classes`` and ``harvest.studio`` of ``path`` (the rest of the section is the harvest's)."""
    cfg = load_section(Path(path), "harvest", LabelingProject, only=("classes", "studio"))
    base = Path(path).resolve().parent
    return cfg.model_copy(
        update={"studio": cfg.studio.model_copy(update={"files_root": resolve_path(cfg.studio.files_root, base)})}
    )
