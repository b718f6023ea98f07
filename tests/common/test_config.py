"""file:// URLs mean one thing everywhere: a relative path is relative to where it is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.common.config import file_url_path, resolve_file_url
from footfall.registry.storage import FileStorage, open_storage


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("file:///srv/registry", Path("/srv/registry")),
        ("file://runs/registry", Path("runs/registry")),  # not the host "runs" and the root's /registry
        ("file://./registry", Path("registry")),
        ("file://../runs/registry", Path("../runs/registry")),
        ("file://localhost/srv/registry", Path("/srv/registry")),
        ("s3://bucket/prefix", None),
    ],
)
def test_the_path_of_a_file_url(url: str, path: Path | None) -> None:
    assert file_url_path(url) == path


def test_a_relative_url_resolves_against_the_config_folder_or_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        resolve_file_url("file://runs/registry", tmp_path / "configs") == f"file://{tmp_path / 'configs/runs/registry'}"
    )
    assert resolve_file_url("file:///abs", tmp_path) == "file:///abs"
    assert resolve_file_url("s3://b/p", tmp_path) == "s3://b/p"
    monkeypatch.chdir(tmp_path)
    storage = open_storage("file://runs/registry")
    assert isinstance(storage, FileStorage) and storage.root == tmp_path / "runs" / "registry"
    assert storage.root.is_dir()
