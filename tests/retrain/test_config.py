from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from footfall.common.config import ConfigError
from footfall.retrain.config import load_retrain_config

GOOD = {
    "train_datasets": ["pets-person"],
    "heldout": "pets-person:1",
    "classes": ["person"],
    "signing": {"sign_key": "keys/registry.key", "verify_key": "keys/registry.pub"},
}


def write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "retrain.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_sample_configs_are_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    cfg = load_retrain_config(root / "configs" / "retrain.yaml")
    assert cfg.heldout == "pets-heldout:1" and cfg.train_datasets == ["store-labels"]
    assert (cfg.model_name, cfg.classes) == ("people", ["child", "female_adult", "male_adult"])
    assert cfg.registry == f"file://{root / 'configs' / '../runs/registry'}"


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    cfg = load_retrain_config(write(tmp_path, {"retrain": {**GOOD, "work_dir": "w", "registry": "file://r"}}))
    assert cfg.work_dir == tmp_path / "w"
    assert cfg.signing is not None and cfg.signing.sign_key == tmp_path / "keys" / "registry.key"
    assert cfg.registry == f"file://{tmp_path / 'r'}"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"heldout": "pets-person"}, "heldout.*must name a version"),
        ({"train": {"epochs": 0}}, r"retrain.train.epochs = 0: Input should be greater than or equal to 1"),
        ({"train": {"device": "gpu"}}, r"retrain.train.device = 'gpu': .*use cpu, 0, or a list"),
        ({"gate": {"metric": "f1"}}, r"retrain.gate.metric = 'f1'"),
        ({"gate": {"min_improvment": 0.1}}, r"retrain.gate.min_improvment.*unknown key"),
        ({"train_datasets": []}, r"retrain.train_datasets"),
        ({"classes": ["a", "a"]}, r"repeat a name"),
        ({"signing": None}, r"signing is not set.*keygen.*allow_unsigned"),
        ({"signing": {"sign_key": "k"}}, r"retrain.signing: verify_key not set.*keygen"),
        ({"base_weights_sha256": "abc"}, r"retrain.base_weights_sha256 = 'abc'"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, change: dict, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_retrain_config(write(tmp_path, {"retrain": {**GOOD, **change}}))
