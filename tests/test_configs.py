"""The shipped configurations agree with each other: what a store captures is what the harvest reads,
the harvest's classes are the retrained model's, the export job writes the dataset retraining reads,
and the model retraining publishes is the one the stores deploy."""

from __future__ import annotations

from pathlib import Path

import yaml

from footfall.common.classes import PRODUCT_CLASSES
from footfall.edge.config import load_config
from footfall.harvest.config import load_harvest_config
from footfall.retrain.config import load_retrain_config
from footfall.scheduler.service import load_scheduler_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def test_the_shipped_configs_make_one_loop() -> None:
    device = load_config(CONFIGS / "sample.yaml")
    harvest = load_harvest_config(CONFIGS / "harvest.yaml")
    retrain = load_retrain_config(CONFIGS / "retrain.yaml")
    jobs = {j.kind: j for j in load_scheduler_config(CONFIGS / "scheduler.yaml").jobs}
    ansible = yaml.safe_load((ROOT / "ansible" / "inventory" / "example" / "group_vars" / "stores.yml").read_text())

    assert device.capture.enabled and device.capture.sync.url == harvest.captures
    assert harvest.classes == retrain.classes == list(PRODUCT_CLASSES)
    # the bootstrap model's classes reach the project through the harvest's class map
    assert all(harvest.project_class(c) for c in device.model.classes)
    assert jobs["export"].dataset in retrain.train_datasets and jobs["export"].registry == retrain.registry
    assert jobs["harvest"].config == jobs["export"].config == CONFIGS / "harvest.yaml"
    assert jobs["retrain"].config == CONFIGS / "retrain.yaml"
    assert (
        retrain.model_name == ansible["footfall_model_name"]
        and retrain.release.to_alias == ansible["footfall_model_alias"]
    )
    assert retrain.gate.promote_to == retrain.release.from_alias
    assert retrain.evaluation.device_config == CONFIGS / "sample.yaml"
