"""The storage goes away in the middle of a publish or a fetch (a real S3 server behind a TCP proxy
whose link is cut): one clear error, nothing half-visible, and the next publish simply takes the next
number. Also the command line: an unreachable registry is a one-line error, not a botocore traceback."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from footfall.registry.artefacts import Ref, RegistryError
from footfall.registry.core import Registry
from footfall.registry.signing import Trust
from footfall.registry.storage import S3Storage
from tests.conftest import footfall_cmd
from tests.helpers import free_port
from tests.tcp_proxy import CuttableProxy

pytestmark = pytest.mark.slow


@pytest.fixture
def cut_registry(s3_endpoint: str, trust: Trust):  # type: ignore[no-untyped-def]
    proxy = CuttableProxy("127.0.0.1", int(s3_endpoint.rsplit(":", 1)[1]))
    storage = S3Storage("footfall-models", f"outage-{uuid.uuid4().hex[:8]}", endpoint_url=proxy.url)
    yield Registry(storage, trust), proxy
    proxy.close()


def test_a_publish_cut_midway_leaves_nothing_half_visible(
    cut_registry,
    artefacts: dict[str, Path],
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    reg, proxy = cut_registry
    reg.publish("people", artefacts)
    upload = reg.storage.upload

    def cut_then_upload(key: str, path: Path) -> None:  # the link drops once the number is claimed
        proxy.cut()
        upload(key, path)

    reg.storage.upload = cut_then_upload  # type: ignore[method-assign]
    with pytest.raises(RegistryError, match="unreachable"):
        reg.publish("people", artefacts)
    reg.storage.upload = upload  # type: ignore[method-assign]
    proxy.restore()
    assert [v["version"] for v in reg.versions("people")] == [1]
    with pytest.raises(RegistryError, match="does not exist"):
        reg.metadata("people", 2)
    assert reg.publish("people", artefacts).version == 3  # 2 stays claimed, never half-published
    assert (reg.fetch(Ref("people", version=3), tmp_path / "device") / "model.onnx").is_file()


def test_a_fetch_cut_midway_changes_nothing_on_the_device(
    cut_registry,
    artefacts: dict[str, Path],
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    reg, proxy = cut_registry
    for _ in range(2):
        reg.publish("people", artefacts)
    dest = tmp_path / "device"
    reg.fetch(Ref("people", version=1), dest)
    download = reg.storage.download

    def cut_then_download(key: str, fh) -> None:  # type: ignore[no-untyped-def]
        proxy.cut()
        download(key, fh)

    reg.storage.download = cut_then_download  # type: ignore[method-assign]
    with pytest.raises(RegistryError, match="unreachable"):
        reg.fetch(Ref("people", version=2), dest)
    assert (dest / "current").resolve().name == "v1"
    assert sorted(p.name for p in dest.iterdir()) == ["current", "v1"]  # no temporary folder left


def test_an_unreachable_registry_is_one_line(tmp_path: Path) -> None:
    env_port = free_port()  # nothing listens
    proc = subprocess.run(
        footfall_cmd("registry", "--url", "s3://footfall-models/x", "list", "people"),
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{env_port}"},
    )
    assert proc.returncode == 1
    assert "unreachable" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-1500:]
