from __future__ import annotations

from pathlib import Path

from footfall.harvest.config import load_harvest_config
from footfall.labeling.config import load_labeling_project


def test_sample_config_is_valid_and_the_labelling_commands_read_its_project() -> None:
    path = Path(__file__).resolve().parents[2] / "configs" / "harvest.yaml"
    cfg = load_harvest_config(path)
    assert cfg.budget == 200
    project = load_labeling_project(path)
    assert (project.classes, project.studio) == (cfg.classes, cfg.studio)
