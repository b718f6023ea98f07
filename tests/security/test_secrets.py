"""Secrets stay secret and the dashboard's one write path takes only well-formed input.

Attacks: a curious local user reading the device config (dashboard token, camera passwords) after a
line save or its backup; camera credentials leaking through logs, the count database (which travels to
a central copy) and dashboard errors; non-finite or malformed line coordinates; a save that skips the
stale-write check by leaving out ``config_version``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from footfall.dashboard.app import Settings, create_app
from footfall.edge.config import load_config
from footfall.edge.sources import VideoSource
from footfall.edge.store import CountStore
from tests.conftest import VTEST
from tests.helpers import free_port

SECRET = "pa55-w0rd-xyz"


def _device(tmp_path: Path, source: str = str(VTEST)) -> Path:
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(
        f"cameras:\n  - name: front\n    source: {source}\n    lines:\n"
        "      - name: door\n        points: [[240, 0], [240, 360]]\n"
        f"storage:\n  db: footfall.db\nmetrics:\n  port: 9\ndashboard:\n  token: tok-{SECRET}-0123456789\n"
    )
    cfg.chmod(0o640)
    return cfg


def _client(cfg: Path) -> TestClient:
    settings = Settings.from_config(cfg, load_config(cfg), f"tok-{SECRET}-0123456789", None)
    c = TestClient(create_app(settings))
    c.headers["Authorization"] = f"Bearer tok-{SECRET}-0123456789"
    return c


def _save(c: TestClient, lines: object, version: object = "current") -> object:
    body: dict = {"lines": lines}
    if version == "current":
        body["config_version"] = c.get("/api/meta").json()["config_version"]
    elif version is not None:
        body["config_version"] = version
    # as raw JSON: NaN and Infinity are what a hostile client sends (httpx's own encoder refuses them)
    return c.put("/api/cameras/front/lines", content=json.dumps(body), headers={"Content-Type": "application/json"})


def test_a_line_save_keeps_the_config_and_its_backup_private(tmp_path: Path) -> None:
    cfg = _device(tmp_path)
    r = _save(_client(cfg), [{"name": "door", "points": [[250, 0], [250, 360]]}])
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    for path in (cfg, cfg.with_name("edge.yaml.bak")):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o007 == 0, f"{path.name} is {oct(mode)}: every local user can read the token"
        assert mode == 0o640


def test_camera_credentials_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens: the source retries and logs each attempt
    stop = threading.Event()
    src = VideoSource(f"rtsp://admin:{SECRET}@127.0.0.1:{port}/stream1", stop=stop, backoff_initial_s=0.05)
    timer = threading.Timer(1.5, stop.set)
    timer.start()
    with caplog.at_level(logging.INFO):
        assert list(src.frames()) == []
    timer.cancel()
    assert "retrying" in caplog.text or "unavailable" in caplog.text, caplog.text
    assert SECRET not in caplog.text
    assert "rtsp://***@127.0.0.1" in caplog.text


def test_camera_credentials_are_not_stored_with_the_counts(tmp_path: Path) -> None:
    """The count database is what a central copy of the chain receives."""
    with CountStore(tmp_path / "footfall.db") as store:
        store.open_session("s1", "front", f"rtsp://admin:{SECRET}@10.0.0.5/stream?password={SECRET}", 0.0)
    dump = "\n".join(sqlite3.connect(tmp_path / "footfall.db").iterdump())
    assert SECRET not in dump
    assert "10.0.0.5" in dump  # which camera it was stays known


def test_a_snapshot_error_does_not_show_the_password(tmp_path: Path) -> None:
    cfg = _device(tmp_path, f"rtsp://admin:{SECRET}@127.0.0.1:{free_port()}/stream1")
    r = _client(cfg).get("/api/cameras/front/snapshot.jpg")
    assert r.status_code == 503
    assert SECRET not in r.text and "127.0.0.1" in r.text


@pytest.mark.parametrize(
    "points",
    [
        [[math.nan, 0], [240, 360]],
        [[240, 0], [math.inf, 360]],
        "240,0,240,360",
        [[240], [240, 360]],
        [[240, 0], [240, 360], [1, 1]],
        [["a", 0], [240, 360]],
    ],
)
def test_malformed_or_non_finite_points_are_refused_and_change_nothing(tmp_path: Path, points: object) -> None:
    cfg = _device(tmp_path)
    before = cfg.read_bytes()
    r = _save(_client(cfg), [{"name": "door", "points": points}])
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    assert "points" in r.text  # type: ignore[attr-defined]
    assert cfg.read_bytes() == before
    load_config(cfg)  # still a valid config


def test_a_save_without_config_version_is_refused(tmp_path: Path) -> None:
    """Leaving the version out must not be a way around the stale-write check."""
    cfg = _device(tmp_path)
    before = cfg.read_bytes()
    r = _save(_client(cfg), [{"name": "door", "points": [[250, 0], [250, 360]]}], version=None)
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    assert "config_version" in r.text  # type: ignore[attr-defined]
    assert cfg.read_bytes() == before


def test_unknown_fields_in_a_line_save_are_refused(tmp_path: Path) -> None:
    cfg = _device(tmp_path)
    r = _save(_client(cfg), [{"name": "door", "points": [[250, 0], [250, 360]], "source": "rtsp://evil/"}])
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    assert os.path.getsize(cfg) > 0


def test_a_config_with_non_finite_coordinates_names_the_key(tmp_path: Path) -> None:
    """A '.nan' written by an older dashboard (or by hand) is refused at load, with the key."""
    from footfall.common.config import ConfigError

    cfg = _device(tmp_path)
    cfg.write_text(cfg.read_text().replace("[[240, 0], [240, 360]]", "[[.nan, 0], [240, 360]]"))
    with pytest.raises(ConfigError, match=r"cameras\[0\]\.lines\[0\]\.points"):
        load_config(cfg)


def test_raising_the_session_epoch_signs_every_browser_out(tmp_path: Path) -> None:
    """A lost laptop's sign-in cookie can be revoked without rotating the token everyone uses."""
    cfg = _device(tmp_path)
    browser = TestClient(create_app(Settings.from_config(cfg, load_config(cfg), f"tok-{SECRET}-0123456789", None)))
    signed = browser.post("/login", data={"token": f"tok-{SECRET}-0123456789", "next": "/"}, follow_redirects=False)
    cookie = signed.cookies.get("footfall_session")
    assert cookie and browser.get("/api/meta").status_code == 200
    cfg.write_text(cfg.read_text() + "  session_epoch: 2\n")  # under dashboard:, the file's last section
    later = TestClient(create_app(Settings.from_config(cfg, load_config(cfg), f"tok-{SECRET}-0123456789", None)))
    later.cookies.set("footfall_session", cookie)
    assert later.get("/api/meta").status_code == 401
    assert _client(cfg).get("/api/meta").status_code == 200  # the token itself still works
