"""Shared fixtures: real data from ../shared/data and real models exported from it."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from footfall.central.db import migrate
from footfall.central.pgserver import PgServer
from footfall.registry.signing import Trust
from tests.s3_server import create_bucket, s3_server, set_s3_env

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FOOTFALL_DATA", ROOT.parent / "shared" / "data")).resolve()
VTEST = DATA / "videos" / "vtest.avi"
ONE_BY_ONE = DATA / "videos" / "one-by-one-person-detection.mp4"
PETS_GT = DATA / "mot" / "PETS09-S2L1" / "gt" / "gt.txt"
# The held-out indoor scene (docs/experiments.md): six people one at a time, in at the bottom edge,
# out at the right; truth read off the video, nothing tuned on it.
HELD_OUT_LINES = [
    {"name": "entrance", "points": [[200, 415], [600, 415]]},
    {"name": "exit", "points": [[600, 200], [600, 432]]},
]
YOLOV5N_PT = DATA / "weights" / "yolov5n.pt"
OSNET_PT = DATA / "reid" / "osnet_x0_25_msmt17.pt"


def footfall_cmd(*args: str) -> list[str]:
    """The installed CLI of this virtual environment."""
    return [sys.executable, "-m", "footfall.cli", *args]


def _exported(factory: pytest.TempPathFactory, name: str, command: str, weights: Path) -> Path:
    """models/NAME from scripts/setup.sh, or exported here from the shared weights with ``command``."""
    made = ROOT / "models" / name
    if made.is_file():
        return made
    out = factory.mktemp("models") / name
    subprocess.run(footfall_cmd("edge", command, "--weights", str(weights), "--out", str(out)), check=True)
    return out


@pytest.fixture(scope="session")
def yolov5n_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _exported(tmp_path_factory, "yolov5n.onnx", "export-onnx", YOLOV5N_PT)


@pytest.fixture(scope="session")
def osnet_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _exported(tmp_path_factory, "osnet_x0_25_msmt17.onnx", "export-reid", OSNET_PT)


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 300 frames of vtest.avi (real video, re-encoded losslessly enough as MJPG)."""
    import cv2

    out = tmp_path_factory.mktemp("clips") / "vtest300.avi"
    cap = cv2.VideoCapture(str(VTEST))
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer = None
    for _ in range(300):
        ok, frame = cap.read()
        if not ok:
            break
        if writer is None:
            h, w = frame.shape[:2]
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
        writer.write(frame)
    assert writer is not None
    writer.release()
    cap.release()
    return out


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as url:
        old = set_s3_env(url)
        create_bucket(url, "footfall-models")
        try:
            yield url
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@pytest.fixture(scope="session")
def signing_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The training server's key pair (private, public), as 'footfall registry keygen' writes it."""
    from footfall.registry.signing import generate_keypair

    folder = tmp_path_factory.mktemp("keys")
    generate_keypair(folder / "registry.key", folder / "registry.pub")
    return folder / "registry.key", folder / "registry.pub"


@pytest.fixture(scope="session")
def trust(signing_keys: tuple[Path, Path]) -> Trust:
    """A process that signs with the private key and verifies with the public one."""
    return Trust(sign_key=signing_keys[0], verify_key=signing_keys[1])


# -- a real PostgreSQL for the chain's central store: one server per test session (initdb + pg_ctl in a
# temporary folder on a free 127.0.0.1 port, removed at the end), a fresh migrated database per test

_names = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    with PgServer.temporary() as server:
        yield server


@pytest.fixture
def central_dsn(pg_server: PgServer) -> str:
    """A new, migrated database."""
    dsn = pg_server.create_db(f"t{next(_names)}")
    migrate(dsn)
    return dsn


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    """A server of this test alone (to kill and restart)."""
    with PgServer.temporary() as server:
        yield server
