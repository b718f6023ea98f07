from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from footfall.registry.core import Registry
from footfall.registry.signing import Trust
from footfall.registry.storage import open_storage


@pytest.fixture(params=["file", "s3"])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return f"file://{tmp_path / 'registry'}"
    request.getfixturevalue("s3_endpoint")
    return f"s3://footfall-models/{uuid.uuid4().hex[:8]}"


@pytest.fixture
def reg(registry_url: str, trust: Trust) -> Registry:
    return Registry(open_storage(registry_url), trust)


@pytest.fixture
def artefacts(tmp_path: Path) -> dict[str, Path]:
    a = tmp_path / "model.onnx"
    a.write_bytes(os.urandom(50_000))
    b = tmp_path / "model.pt"
    b.write_bytes(os.urandom(20_000))
    return {"model.onnx": a, "model.pt": b}
