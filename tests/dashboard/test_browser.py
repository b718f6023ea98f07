"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright), on
counts from real runs of the detector and tracker on vtest.avi.

Screenshots of both pages are kept in artifacts/screenshots/ ($FOOTFALL_ARTIFACTS overrides).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from footfall.common.mot import load_mot
from tests.conftest import PETS_GT, ROOT, VTEST, footfall_cmd
from tests.helpers import free_port

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("FOOTFALL_ARTIFACTS", ROOT / "artifacts")) / "screenshots"
START = 1795428000.0  # 2026-11-23 10:00 UTC: the clip's first frame
DAY = "2026-11-23"


def device_config(tmp: Path, model: Path, lines: dict[str, list], metrics_port: int, dash_port: int) -> Path:
    cfg = {
        "cameras": [
            {
                "name": "plaza",
                "source": str(VTEST),
                "start_time": START,
                "lines": [{"name": n, "points": p} for n, p in lines.items()],
            }
        ],
        "model": {"path": str(model), "classes": ["person"], "class_map": {"person": "person"}, "input_size": 480},
        "tracker": {"name": "bytetrack", "stitch_max_gap_frames": 50},
        "counting": {"uturn_window_s": 2},
        "storage": {"db": str(tmp / "footfall.db")},
        "metrics": {"port": metrics_port, "live_fps": 5},
        "capture": {"enabled": False, "dir": str(tmp / "spool")},
        "dashboard": {"port": dash_port, "timezone": "UTC"},
    }
    path = tmp / "device.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def wait_http(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def start(*args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(footfall_cmd(*args), stdout=log.open("w"), stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: scripts/setup.sh installs it (apt-get)"
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory, yolov5n_onnx: Path) -> tuple[Path, dict]:
    """A real run on vtest.avi: the device config and its summary."""
    tmp = tmp_path_factory.mktemp("dash-run")
    lines = {"x240": [[240, 0], [240, 360]], "y200": [[0, 200], [480, 200]]}
    cfg = device_config(tmp, yolov5n_onnx, lines, 0, free_port())
    subprocess.run(footfall_cmd("edge", "run", "--config", str(cfg), "--summary-json", str(tmp / "s.json")), check=True)
    return cfg, json.loads((tmp / "s.json").read_text())


def test_charts_render_the_counts_of_a_real_run(counted: tuple[Path, dict], browser, tmp_path: Path) -> None:
    cfg, summary = counted
    port = yaml.safe_load(cfg.read_text())["dashboard"]["port"]
    server = start("serve", "--config", str(cfg), log=tmp_path / "serve.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/api/health")
        page = browser.new_page(viewport={"width": 1300, "height": 1100})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://127.0.0.1:{port}/")  # no query: the page opens on the last day with data
        page.wait_for_selector("body[data-state=ready]", timeout=30_000)
        assert page.input_value("#start") == DAY and page.input_value("#end") == DAY
        total_in = sum(line["in"] for line in summary["lines"].values())
        total_out = sum(line["out"] for line in summary["lines"].values())
        assert total_in > 0 and total_out > 0
        assert page.inner_text("#kpi-in") == str(total_in)
        assert page.inner_text("#kpi-out") == str(total_out)
        bars = page.eval_on_selector_all(
            "#chart-counts rect.bar", "els => els.map(e => [e.dataset.direction, +e.dataset.value, e.dataset.bucket])"
        )
        assert sum(v for d, v, _ in bars if d == "in") == total_in
        assert sum(v for d, v, _ in bars if d == "out") == total_out
        assert {b for _, _, b in bars} <= {f"{DAY}T10:00+00:00", f"{DAY}T10:15+00:00"}  # the clip is 80 s long
        for name, line in summary["lines"].items():
            cells = page.eval_on_selector_all(f"tr[data-line='plaza/{name}'] td", "tds => tds.map(t => t.innerText)")
            assert cells[-2:] == [str(line["in"]), str(line["out"])], name
        assert page.locator("#chart-occupancy polyline.series").count() >= 1
        # the CSV behind the download button has the same numbers
        csv = page.request.get(page.evaluate("document.getElementById('csv').href")).text()
        assert sum(int(r.split(",")[-2]) for r in csv.splitlines()[1:]) == total_in + total_out
        # no entrances named and two lines: the page warns that the headline sums both
        assert "Every line is summed (2 lines)" in page.inner_text("#headline-lines")
        assert "warning" in (page.get_attribute("#headline-lines", "class") or "")
        # one line only: the filter is applied to every figure
        page.select_option("#line", "x240")
        page.click("button[type=submit]")
        page.wait_for_function(f"document.getElementById('kpi-in').innerText == '{summary['lines']['x240']['in']}'")
        page.select_option("#line", "")
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-state=ready]")
        page.wait_for_function(f"document.getElementById('kpi-in').innerText == '{total_in}'")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-charts.png"), full_page=True)
        assert not errors, errors
    finally:
        stop(server)


def yellow_column(jpeg: bytes, x: int) -> float:
    """Share of pixels in column ``x`` that are the live view's line colour (BGR 0,255,255)."""
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    col = img[:, x - 1 : x + 2].reshape(-1, 3).astype(int)
    return float(np.mean((col[:, 2] > 180) & (col[:, 1] > 180) & (col[:, 0] < 110)))


def test_live_view_and_a_drawn_line_used_by_the_next_run(yolov5n_onnx: Path, browser, tmp_path: Path) -> None:
    edge_port, dash_port = free_port(), free_port()
    cfg = device_config(tmp_path, yolov5n_onnx, {"x240": [[240, 0], [240, 360]]}, edge_port, dash_port)
    # the camera's recent tracks, as its capture spool keeps them (PETS's people): where people walk
    spool = tmp_path / "spool" / "plaza" / "tracks"
    spool.mkdir(parents=True)
    (spool / "s0.txt").write_text(
        "".join(f"{int(f)},{int(i)},{x},{y},{w},{h},0.9,0,1\n" for f, i, x, y, w, h in load_mot(PETS_GT))
    )
    edge = start("edge", "run", "--config", str(cfg), log=tmp_path / "edge.log")
    server = start("serve", "--config", str(cfg), log=tmp_path / "serve.log")
    try:
        wait_http(f"http://127.0.0.1:{dash_port}/api/health")
        wait_http(f"http://127.0.0.1:{edge_port}/health", timeout_s=120)
        # the edge draws frames only for a viewer: the annotated frame carries the yellow x240 line
        with urllib.request.urlopen(f"http://127.0.0.1:{edge_port}/live/plaza.jpg", timeout=30) as r:
            annotated = r.read()
        raw = cv2.imencode(".jpg", cv2.VideoCapture(str(VTEST)).read()[1])[1].tobytes()
        assert yellow_column(annotated, 240) > 0.8 and yellow_column(raw, 240) < 0.05

        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(f"http://127.0.0.1:{dash_port}/live/plaza")
        page.wait_for_selector("body[data-view=live]", timeout=30_000)
        assert page.evaluate("document.body.dataset.frame") == "480x360"
        page.wait_for_timeout(1500)  # a few frames of the stream
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-live.png"), full_page=True)

        # draw a horizontal line across the picture at y = 55 % (198 px of 360)
        box = page.locator("#overlay").bounding_box()
        y = box["y"] + 0.55 * box["height"]
        page.mouse.move(box["x"] + 0.1 * box["width"], y)
        page.mouse.down()
        page.mouse.move(box["x"] + 0.5 * box["width"], y, steps=4)
        page.mouse.move(box["x"] + 0.9 * box["width"], y, steps=4)
        page.mouse.up()
        assert page.locator("line.drawn-line").count() == 2
        page.locator("input.line-name").nth(1).fill("mid")
        page.locator("input.line-name").nth(1).dispatch_event("change")
        page.wait_for_selector("body[data-advice]", timeout=10_000)
        assert page.evaluate("document.body.dataset.advice") == "ok"  # x240: people walk across it
        page.click("#save")
        page.wait_for_selector("body[data-save=saved]", timeout=10_000)
        # the new horizontal line runs with the plaza's walking direction: the installer is told so
        page.wait_for_selector("body[data-advice=warned]", timeout=10_000)
        assert "line mid: people walk nearly along it" in page.inner_text("#advice")
        page.screenshot(path=str(ARTIFACTS / "dashboard-live-line-saved.png"), full_page=True)
    finally:
        stop(server)
        stop(edge)

    saved_cam = yaml.safe_load(cfg.read_text())["cameras"][0]
    lines = {ln["name"]: ln for ln in saved_cam["lines"]}
    assert set(lines) == {"x240", "mid"}
    assert saved_cam["frame_size"] == [480, 360], "saved with the size of the picture it was drawn on"
    (x1, y1), (x2, y2) = lines["mid"]["points"]
    assert abs(x1 - 48) <= 3 and abs(x2 - 432) <= 3 and abs(y1 - 198) <= 3 and abs(y2 - 198) <= 3

    # the next run counts on the saved line
    out = tmp_path / "next.json"
    subprocess.run(
        footfall_cmd("edge", "run", "--config", str(cfg), "--metrics-port", "0", "--summary-json", str(out)),
        check=True,
    )
    summary = json.loads(out.read_text())
    assert set(summary["lines"]) == {"x240", "mid"}
    assert summary["lines"]["mid"]["in"] + summary["lines"]["mid"]["out"] > 0


def test_the_page_says_which_classes_the_model_cannot_tell_apart(yolov5n_onnx: Path, browser, tmp_path: Path) -> None:
    """The COCO bootstrap model counts everyone as male_adult: the page says children and women are not
    told apart yet (their 0 is no measurement)."""
    from footfall.edge.store import CountStore
    from tests.dashboard.test_queries import ev

    with CountStore(tmp_path / "footfall.db") as store:
        store.commit(
            "s1",
            [ev(START, "in", 1, camera="plaza", line="x240"), ev(START + 9, "out", 2, camera="plaza", line="x240")],
        )
    port = free_port()
    cfg = device_config(tmp_path, yolov5n_onnx, {"x240": [[240, 0], [240, 360]]}, 0, port)
    doc = yaml.safe_load(cfg.read_text())
    doc["model"].update({"classes": ["child", "female_adult", "male_adult"], "class_map": {"person": "male_adult"}})
    cfg.write_text(yaml.safe_dump(doc))
    server = start("serve", "--config", str(cfg), log=tmp_path / "serve.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/api/health")
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("body[data-state=ready]", timeout=30_000)
        note = page.inner_text("#class-kpis .not-counted")
        assert "Not told apart by the current model: Children, Women" in note, note
        page.close()
    finally:
        stop(server)


def test_the_chain_page_over_postgresql_shows_a_real_run_shipped_by_its_device(
    counted: tuple[Path, dict], browser, central_dsn: str, tmp_path: Path
) -> None:
    """The real run's device ships to a real central server; the chain's dashboard (over PostgreSQL)
    ranks the store by its entrance line and drills down into the store's page with the same numbers."""
    from footfall.central.db import StoreInfo, add_device, connect, put_store

    cfg_path, summary = counted
    with connect(central_dsn) as con:
        put_store(
            con, StoreInfo("plaza-store", name="Plaza", region="North", timezone="UTC", entrances=("plaza/x240",))
        )
        put_store(con, StoreInfo("empty-store", region="South"))
        token = add_device(con, "plaza-store", "plaza-dev")
    ingest_port, dash_port = free_port(), free_port()
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["central"] = {"url": f"http://127.0.0.1:{ingest_port}", "device": "plaza-dev", "token": token}
    device = tmp_path / "device.yaml"
    device.write_text(yaml.safe_dump(cfg))
    ingest = start("central", "serve", "--dsn", central_dsn, "--port", str(ingest_port), log=tmp_path / "ingest.log")
    dash = start("serve", "--db", central_dsn, "--port", str(dash_port), log=tmp_path / "dash.log")
    try:
        wait_http(f"http://127.0.0.1:{ingest_port}/health")
        subprocess.run(footfall_cmd("edge", "ship", "--config", str(device)), check=True)
        wait_http(f"http://127.0.0.1:{dash_port}/api/health")
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://127.0.0.1:{dash_port}/")  # a chain's dashboard opens on the chain
        page.fill("#day", DAY)
        page.click("button[type=submit]")
        page.wait_for_function(f"location.search.includes('day={DAY}') && document.body.dataset.state === 'ready'")
        x240 = summary["lines"]["x240"]
        assert page.inner_text("#kpi-in") == str(x240["in"])  # the entrance line only, not x240 + y200
        ranked = page.eval_on_selector_all("#ranking tbody tr", "rows => rows.map(r => r.dataset.store)")
        assert ranked == ["plaza-store", "empty-store"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-chain.png"), full_page=True)
        page.click("tr[data-store=plaza-store] a")
        page.wait_for_selector("body[data-state=ready]", timeout=30_000)
        assert "store=plaza-store" in page.url
        assert page.inner_text("#kpi-in") == str(x240["in"]) and page.inner_text("#kpi-out") == str(x240["out"])
        assert "entrance line plaza/x240" in page.inner_text("#headline-lines")
        for name, line in summary["lines"].items():  # the table: every line, as the device counted it
            cells = page.eval_on_selector_all(f"tr[data-line='plaza/{name}'] td", "tds => tds.map(t => t.innerText)")
            assert cells[-2:] == [str(line["in"]), str(line["out"])], name
        assert not errors, errors
    finally:
        stop(dash)
        stop(ingest)
