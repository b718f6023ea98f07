"""Edge → central, exactly once, end to end with real processes: two devices ship their crossings to a
real 'footfall central serve' over a real PostgreSQL through an outage and a kill -9 of each side (the
shipper, the ingest server, the database); afterwards the central store has every device crossing once,
crossing by crossing, and its rollup sums exactly those."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
import yaml

from footfall.central.db import StoreInfo, add_device, connect, migrate, put_store
from footfall.central.pgserver import PgServer
from footfall.edge.store import CountStore
from footfall.edge.types import CrossingEvent, Direction
from tests.conftest import footfall_cmd
from tests.dashboard.test_browser import wait_http
from tests.helpers import free_port, wait_for

pytestmark = pytest.mark.slow

DAY0 = 1_795_000_000.0  # 2026-11-18


def fill(db: Path, camera: str, n: int, seed: int) -> None:
    """``n`` crossings of one camera over three days, two lines, committed in small transactions like the
    edge does (a frame at a time)."""
    with CountStore(db) as store:
        batch = []
        for k in range(n):
            ts = DAY0 + (k * 7919 + seed * 104729) % (3 * 86400)
            cls = ("child", "female_adult", "male_adult")[k % 3]
            direction = Direction.IN if k % 5 < 3 else Direction.OUT
            batch.append(CrossingEvent(camera, ("door", "aisle")[k % 2], k // 2, k, ts, cls, direction, None))
            if len(batch) == 50:
                store.commit(f"s-{camera}", batch)
                batch = []
        store.commit(f"s-{camera}", batch)


def device_config(tmp: Path, name: str, camera: str, url: str, token: str) -> Path:
    cfg = {
        "cameras": [
            {"name": camera, "source": "rtsp://127.0.0.1:9/x", "lines": [
                {"name": "door", "points": [[100, 0], [100, 400]]},
                {"name": "aisle", "points": [[300, 0], [300, 400]]},
            ]}
        ],
        "storage": {"db": str(tmp / f"{name}.db")},
        "central": {"url": url, "device": name, "token": token, "batch": 500, "every_s": 0.2},
    }  # fmt: skip
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def device_rows(db: Path) -> set[tuple]:
    with CountStore(db) as s:
        return {(cam, sess, line, tid, frame) for cam, sess, line, tid, frame, *_ in s.events()}


def central_rows(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as con:
        return con.execute("SELECT camera, session, line, track_id, frame FROM crossings").fetchall()


def start_server(dsn: str, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        footfall_cmd("central", "serve", "--dsn", dsn, "--port", str(port)),
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )
    wait_http(f"http://127.0.0.1:{port}/health", 60)
    return proc


def shipper(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(footfall_cmd("edge", "ship", "--config", str(config), "--every"), stdout=log.open("a"),
                            stderr=subprocess.STDOUT)  # fmt: skip


def outbox(db: Path) -> int:
    with CountStore(db) as s:
        return s.outbox_size()


def test_two_devices_ship_through_an_outage_and_kills_exactly_once(tmp_path: Path, own_pg: PgServer) -> None:
    dsn = own_pg.create_db("chain")
    migrate(dsn)
    with connect(dsn) as con:
        put_store(con, StoreInfo("berlin-1", region="DE", timezone="Europe/Berlin", entrances=("front/door",)))
        tokens = {name: add_device(con, "berlin-1", name) for name in ("dev-a", "dev-b")}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logs = tmp_path / "logs.txt"
    configs = {
        "dev-a": device_config(tmp_path, "dev-a", "front", url, tokens["dev-a"]),
        "dev-b": device_config(tmp_path, "dev-b", "back", url, tokens["dev-b"]),
    }
    dbs = {name: tmp_path / f"{name}.db" for name in configs}
    fill(dbs["dev-a"], "front", 6000, 1)
    fill(dbs["dev-b"], "back", 4000, 2)

    # 1. the central store is down (nothing listens): the devices keep everything
    r = subprocess.run(footfall_cmd("edge", "ship", "--config", str(configs["dev-a"])), capture_output=True, text=True)
    assert r.returncode != 0 and "nothing was forgotten" in r.stderr and outbox(dbs["dev-a"]) == 6000

    # 2. up; both ship; dev-a's shipper is killed -9 mid-way, the server is killed -9 mid-way
    server = start_server(dsn, port, logs)
    ships = {name: shipper(cfg, logs) for name, cfg in configs.items()}
    wait_for(lambda: outbox(dbs["dev-a"]) < 5000, 60, "dev-a to ship some")
    ships["dev-a"].kill()
    wait_for(lambda: outbox(dbs["dev-b"]) < 3000, 60, "dev-b to ship some")
    server.kill()
    server.wait()
    # 3. the database is killed -9 too, and a crossing arrives on dev-a while everything is down
    own_pg.kill()
    fill(dbs["dev-a"], "front", 6100, 1)  # the first 6000 again (deduplicated on the device) and 100 new
    time.sleep(1.0)  # dev-b's shipper keeps retrying against nothing
    own_pg.start()
    server = start_server(dsn, port, logs)
    ships["dev-a"] = shipper(configs["dev-a"], logs)
    try:
        wait_for(lambda: outbox(dbs["dev-a"]) == 0 and outbox(dbs["dev-b"]) == 0, 120, "both outboxes to drain")
    finally:
        for p in ships.values():
            p.kill()
        server.kill()

    got = central_rows(dsn)
    assert len(got) == len(set(got)), "a crossing was stored twice"
    want = device_rows(dbs["dev-a"]) | device_rows(dbs["dev-b"])
    assert len(want) == 6100 + 4000
    assert set(got) == want, f"missing {len(want - set(got))}, extra {len(set(got) - want)}"
    with psycopg.connect(dsn) as con:
        rollup = con.execute("SELECT sum(n) FROM counts_15m").fetchone()[0]
        per_key = con.execute(
            "SELECT r.n, (SELECT count(*) FROM crossings c WHERE c.store = r.store AND c.camera = r.camera AND "
            "c.line = r.line AND c.class = r.class AND c.direction = r.direction "
            "AND floor(c.ts / 900) * 900 = r.bucket) "
            "FROM counts_15m r"
        ).fetchall()
        hourly = con.execute("SELECT sum(n) FROM counts_1h").fetchone()[0]
        daily = con.execute("SELECT sum(n) FROM counts_1d").fetchone()[0]
    assert rollup == len(want) and all(a == b for a, b in per_key) and hourly == daily == len(want)


def test_a_refused_device_keeps_its_crossings_and_metrics_say_why(tmp_path: Path, central_dsn: str) -> None:
    with connect(central_dsn) as con:
        put_store(con, StoreInfo("s1"))
        token = add_device(con, "s1", "dev-a")
        other = add_device(con, "s1", "dev-b")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cfg = device_config(tmp_path, "dev-a", "front", url, token)
    fill(tmp_path / "dev-a.db", "front", 300, 1)
    server = start_server(central_dsn, port, tmp_path / "log.txt")
    try:
        # another device already ships camera 'front' of this store: dev-a is refused, keeps everything
        (tmp_path / "b").mkdir()
        clash = device_config(tmp_path / "b", "dev-b", "front", url, other)
        fill(tmp_path / "b" / "dev-b.db", "front", 10, 7)
        assert subprocess.run(footfall_cmd("edge", "ship", "--config", str(clash)), capture_output=True).returncode == 0
        r = subprocess.run(footfall_cmd("edge", "ship", "--config", str(cfg)), capture_output=True, text=True)
        assert r.returncode != 0 and "(409)" in r.stderr and "shipped by device dev-b" in r.stderr
        assert outbox(tmp_path / "dev-a.db") == 300
        # revoked: 401, still nothing lost
        subprocess.run(footfall_cmd("central", "device", "revoke", "dev-a", "--dsn", central_dsn), check=True)
        r = subprocess.run(footfall_cmd("edge", "ship", "--config", str(cfg)), capture_output=True, text=True)
        assert r.returncode != 0 and "revoked" in r.stderr and outbox(tmp_path / "dev-a.db") == 300
        with urllib.request.urlopen(f"{url}/metrics") as resp:
            metrics = resp.read().decode()
        assert 'footfall_central_ingest_rejects_total{status="409"} 1.0' in metrics
        assert 'footfall_central_ingest_rejects_total{status="401"} 1.0' in metrics
        assert 'footfall_central_ingest_rows_total{result="added"} 10.0' in metrics
        assert 'footfall_central_device_last_seen_age_seconds{device="dev-b",store="s1"}' in metrics
        status = subprocess.run(
            footfall_cmd("central", "status", "--dsn", central_dsn), capture_output=True, text=True, check=True
        ).stdout
        assert "dev-a" in status and "REVOKED" in status and "never" in status
    finally:
        server.kill()
