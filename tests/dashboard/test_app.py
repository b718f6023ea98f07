"""The dashboard's HTTP API in-process (FastAPI's test client): access, errors, saving lines."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from footfall.dashboard.app import Settings, create_app
from footfall.dashboard.lines import config_version
from footfall.edge.config import load_config
from footfall.edge.store import CountStore
from tests.conftest import VTEST, footfall_cmd
from tests.dashboard.test_queries import BERLIN, at, ev

TOKEN = "s3cret-token-for-tests-0123"

CONFIG = f"""\
# the front door camera
cameras:
  - name: front
    source: {VTEST}
    lines:
      - name: door   # the shop door
        points: [[240, 0], [240, 360]]
storage:
  db: footfall.db
metrics:
  port: 9   # discard: nothing listens, the edge is "not running"
dashboard:
  timezone: Europe/Berlin
"""


@pytest.fixture
def device(tmp_path: Path) -> Path:
    cfg = tmp_path / "device.yaml"
    cfg.write_text(CONFIG)
    with CountStore(tmp_path / "footfall.db") as s:
        s.commit("s1", [ev(at("2026-11-23", "10:00"), "in", 1), ev(at("2026-11-23", "10:20"), "out", 1)])
    return cfg


def client(cfg_path: Path, token: str | None = None) -> TestClient:
    cfg = load_config(cfg_path)
    return TestClient(create_app(Settings.from_config(cfg_path, cfg, token, BERLIN)))


def test_api_answers_and_rejects_bad_requests(device: Path) -> None:
    c = client(device)
    meta = c.get("/api/meta").json()
    assert meta["default_day"] == "2026-11-23" and meta["cameras"]["front"]["lines"][0]["name"] == "door"
    counts = c.get("/api/counts", params={"start": "2026-11-23", "interval": 3600}).json()
    assert counts["totals"]["in"] == 1 and counts["totals"]["out"] == 1
    csv = c.get("/api/counts.csv", params={"start": "2026-11-23", "interval": 3600})
    assert csv.headers["content-type"].startswith("text/csv") and "attachment" in csv.headers["content-disposition"]
    assert csv.text.splitlines()[1].startswith("2026-11-23T10:00+01:00,2026-11-23T11:00+01:00,front,door,")
    assert c.get("/api/dwell", params={"start": "2026-11-23"}).json()["median_s"] == 1200.0
    bad = c.get("/api/counts", params={"start": "23.11.2026"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.json()["error"]
    assert c.get("/api/counts", params={"interval": 7}).status_code == 400
    for page in ("/", "/live/front"):
        assert c.get(page).status_code == 200
    assert c.get("/live/nope").status_code == 404


def test_token_is_required_when_set(device: Path) -> None:
    c = client(device, TOKEN)
    assert c.get("/api/meta").status_code == 401
    page = c.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert c.get("/api/meta", headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
    assert c.get("/api/meta", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert (
        c.post("/login", data={"token": "nope", "next": "/"}, follow_redirects=False)
        .headers["location"]
        .endswith("failed=1")
    )
    signed = c.post("/login", data={"token": TOKEN, "next": "/live/front"}, follow_redirects=False)
    assert signed.headers["location"] == "/live/front"
    cookie = signed.cookies.get("footfall_session")
    assert cookie and TOKEN not in cookie  # the cookie is derived from the token, not the token
    assert c.get("/api/meta").status_code == 200  # the client keeps the cookie


def test_serve_refuses_to_bind_beyond_loopback_without_a_token(device: Path) -> None:
    out = subprocess.run(
        footfall_cmd("serve", "--config", str(device), "--host", "0.0.0.0"),
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert out.returncode != 0
    assert "dashboard.token" in out.stderr and "refusing to serve on 0.0.0.0" in out.stderr


def test_lines_are_saved_in_place_validated_and_guarded(device: Path) -> None:
    c = client(device)
    version = c.get("/api/meta").json()["config_version"]
    lines = [
        {"name": "door", "points": [[250, 0], [250, 360]]},
        {"name": "till", "points": [[0, 100.456], [480, 120]], "invert": True},
    ]
    r = c.put("/api/cameras/front/lines", json={"lines": lines, "config_version": version, "frame_size": [480, 360]})
    assert r.status_code == 200, r.text
    text = device.read_text()
    assert "# the front door camera" in text and "# the shop door" in text  # comments kept
    saved = yaml.safe_load(text)["cameras"][0]["lines"]
    assert saved == [
        {"name": "door", "points": [[250, 0], [250, 360]]},
        {"name": "till", "points": [[0, 100.46], [480, 120]], "invert": True},
    ]
    assert load_config(device).cameras[0].lines[1].invert is True
    assert load_config(device).cameras[0].frame_size == (480, 360)  # the picture they were drawn on
    assert (device.parent / "device.yaml.bak").read_text() == CONFIG

    stale = c.put("/api/cameras/front/lines", json={"lines": lines, "config_version": version})
    assert stale.status_code == 409 and "changed since it was read" in stale.json()["error"]

    before = device.read_text()
    bad = c.put(
        "/api/cameras/front/lines",
        json={"lines": [{"name": "a b", "points": [[5, 5], [5, 5]]}], "config_version": config_version(device)},
    )
    assert bad.status_code == 422
    problems = bad.json()["problems"]
    assert any(p.startswith("cameras[0].lines[0].name") for p in problems)
    assert any(p.startswith("cameras[0].lines[0].points") and "distinct" in p for p in problems)
    assert device.read_text() == before  # a refused save changes nothing
    missing = c.put("/api/cameras/nope/lines", json={"lines": lines, "config_version": config_version(device)})
    assert missing.status_code == 404


def test_snapshot_is_a_frame_of_the_camera(device: Path) -> None:
    r = client(device).get("/api/cameras/front/snapshot.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    # the edge is not running: the live relay says so instead of hanging
    live = client(device).get("/api/cameras/front/live.mjpg")
    assert live.status_code == 503 and "not reachable" in live.json()["error"]


def test_a_central_copy_without_config_serves_charts_but_no_live_view(device: Path) -> None:
    c = TestClient(create_app(Settings(db=device.parent / "footfall.db", tz=BERLIN)))
    meta = c.get("/api/meta").json()
    assert meta["cameras"] == {"front": {"lines": [{"name": "door"}], "live": False}}  # from lines_seen
    assert c.get("/api/counts", params={"start": "2026-11-23"}).json()["totals"]["in"] == 1
    assert c.get("/live/front").status_code == 404
    assert c.get("/api/cameras/front/live.mjpg").status_code == 404
    assert c.put("/api/cameras/front/lines", json={"lines": [], "config_version": "x"}).status_code == 409


def test_classes_the_model_cannot_report_are_named(tmp_path: Path, yolov5n_onnx: Path) -> None:
    """The COCO bootstrap model counts every person as male_adult: the store owner is told that children
    and women are not told apart yet, instead of reading their 0 as a measurement."""
    cfg = tmp_path / "device.yaml"
    model = {"path": str(yolov5n_onnx), "classes": ["child", "female_adult", "male_adult"]}
    doc = yaml.safe_load(CONFIG) | {"model": {**model, "class_map": {"person": "male_adult"}}}
    cfg.write_text(yaml.safe_dump(doc))
    assert client(cfg).get("/api/meta").json()["not_counted"] == ["child", "female_adult"]
    doc["model"] = {**model, "class_map": {"person": "male_adult"}, "model_names": ["woman", "man", "kid"]}
    doc["model"]["class_map"] = {"kid": "child", "woman": "female_adult", "man": "male_adult"}
    cfg.write_text(yaml.safe_dump(doc))
    assert client(cfg).get("/api/meta").json()["not_counted"] == []


def test_line_advice_comes_from_the_cameras_recent_tracks(device: Path) -> None:
    """Where people walked near each line (the capture spool's track files; here PETS's people): a line
    they walk along is warned of, in the advice and in a save's answer."""
    from footfall.common.mot import load_mot
    from tests.conftest import PETS_GT

    c = client(device)
    empty = c.get("/api/cameras/front/advice").json()["advice"]
    assert empty["door"]["steps"] == 0 and empty["door"]["warnings"] == []  # no tracks yet: nothing known
    spool = load_config(device).capture.dir
    (spool / "front" / "tracks").mkdir(parents=True)
    rows = load_mot(PETS_GT)
    (spool / "front" / "tracks" / "s1.txt").write_text(
        "".join(f"{int(f)},{int(i)},{x},{y},{w},{h},0.9,0,1\n" for f, i, x, y, w, h in rows)
    )
    lines = [{"name": "across", "points": [[240, 0], [240, 360]]}, {"name": "along", "points": [[0, 200], [480, 200]]}]
    version = c.get("/api/meta").json()["config_version"]
    saved = c.put("/api/cameras/front/lines", json={"lines": lines, "config_version": version}).json()
    assert saved["advice"]["across"]["warnings"] == [] and saved["advice"]["across"]["expected_accuracy"] == 0.95
    (warning,) = saved["advice"]["along"]["warnings"]
    assert warning.startswith("line along: people walk nearly along it (18° to the line)")
    assert c.get("/api/cameras/front/advice").json()["advice"] == saved["advice"]
    assert c.get("/api/cameras/nope/advice").status_code == 404
