from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, footfall_cmd

CONFIG = ROOT / "configs" / "harvest.yaml"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(footfall_cmd(*args), capture_output=True, text=True, timeout=120, env=env)


def test_validate_config() -> None:
    assert "ok" in run("harvest", "run", "--config", str(CONFIG), "--validate-config").stdout


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "h.yaml"
    bad.write_text(CONFIG.read_text().replace("strategy: balanced", "strategy: clever"))
    proc = run("harvest", "run", "--config", str(bad), "--validate-config")
    assert proc.returncode != 0
    assert "unknown strategy 'clever'; available: balanced, count-aware, diversity, random, uncertainty" in proc.stderr


@pytest.mark.parametrize("command", [["harvest", "run"], ["labeling", "setup"]])
def test_missing_token_is_named(command: list[str]) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "LABEL_STUDIO_TOKEN"}
    proc = run(*command, "--config", str(CONFIG), env=env)
    assert proc.returncode != 0 and "$LABEL_STUDIO_TOKEN is not set" in proc.stderr
