from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import footfall_cmd


def ff(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(footfall_cmd("registry", "--url", url, *args), capture_output=True, text=True)


def test_cli_round_trip(
    registry_url: str, artefacts: dict[str, Path], tmp_path: Path, signing_keys: tuple[Path, Path]
) -> None:
    sign, verify = f"--sign-key={signing_keys[0]}", f"--verify-key={signing_keys[1]}"
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"metrics": {"map50": 0.61}, "class_names": ["person"]}))
    files = [f"--file={k}={v}" for k, v in artefacts.items()]
    assert (
        ff(registry_url, "publish", "people", *files, "--metadata", str(meta), sign).stdout.strip()
        == "published people:1"
    )
    meta.write_text(json.dumps({"metrics": {"map50": 0.66}, "parent_version": 1}))
    assert ff(registry_url, "publish", "people", *files, "--metadata", str(meta), sign).returncode == 0
    assert ff(registry_url, "promote", "people", "1", "--alias", "production").returncode == 0
    assert ff(registry_url, "promote", "people", "2", "--alias", "production").returncode == 0
    listed = json.loads(ff(registry_url, "list", "people", "--json").stdout)
    assert [(v["version"], v["aliases"]) for v in listed] == [(1, []), (2, ["production"])]
    assert "map50" in ff(registry_url, "list", "people").stdout
    shown = json.loads(ff(registry_url, "show", "people@production", "--json").stdout)
    assert shown["version"] == 2 and shown["parent_version"] == 1
    diff = json.loads(ff(registry_url, "diff", "people:1", "people:2", "--json").stdout)
    assert diff == [{"metric": "map50", "people:1": 0.61, "people:2": 0.66}]
    assert "rolled back" in ff(registry_url, "rollback", "people", "--alias", "production").stdout
    out = ff(registry_url, "fetch", "people@production", "--dest", str(tmp_path / "dev"), verify)
    assert out.returncode == 0 and out.stdout.strip().endswith("v1")
    hist = ff(registry_url, "history", "people").stdout
    assert "rollback" in hist and "promote" in hist
    bad = ff(registry_url, "promote", "people", "9", "--alias", "production")
    assert bad.returncode == 1 and "people:9 does not exist" in bad.stderr
