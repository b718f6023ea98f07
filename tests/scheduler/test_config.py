from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from footfall.common.config import ConfigError
from footfall.scheduler.service import load_scheduler_config


def test_sample_config_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    assert {j.kind for j in load_scheduler_config(root / "configs" / "scheduler.yaml").jobs} == {
        "harvest",
        "export",
        "retrain",
    }


@pytest.mark.parametrize(
    ("job", "problem"),
    [
        ({"name": "a", "kind": "retrain", "cron": "0 2 * * *"}, "a retrain job needs config"),
        ({"name": "a", "kind": "command", "command": ["true"]}, "exactly one of cron, interval_s or after"),
        ({"name": "a", "kind": "command", "command": ["true"], "cron": "0 2 * *"}, "needs 5 fields"),
        ({"name": "a", "kind": "harvest", "interval_s": 1}, "a harvest job needs config"),
        ({"name": "a", "kind": "bogus", "interval_s": 1}, r"scheduler.jobs\[0\].kind = 'bogus'"),
    ],
)
def test_scheduler_errors(tmp_path: Path, job: dict, problem: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"scheduler": {"jobs": [job]}}))
    with pytest.raises(ConfigError, match=problem):
        load_scheduler_config(path)


def test_an_export_job_needs_its_dataset_and_registry(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {"scheduler": {"jobs": [{"name": "e", "kind": "export", "config": "h.yaml", "cron": "0 6 * * *"}]}}
        )
    )
    with pytest.raises(ConfigError, match="an export job needs dataset and registry"):
        load_scheduler_config(path)
