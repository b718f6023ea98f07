"""The chain's central store at scale: ingest throughput and the dashboard's chain and store queries.

A synthetic chain of ``--stores`` stores × 2 cameras × 2 lines × ``--days`` days × ``--per-day``
crossings per camera and day (opening hours 08:00–21:00 local, four time zones, three classes) is
shipped to a real ``footfall central serve`` over a real PostgreSQL (a private server, fsync on), by
``--devices`` concurrent shippers posting the devices' JSON batches. Then, through real HTTP
(``footfall serve --db postgresql://…``), the chain page for one day and for one week, and one store's
day chart.

Baselines, measured in the same run:
- ingest: a bare ``COPY`` of the same rows into an unindexed, unpartitioned table (the least it costs
  to get the rows into PostgreSQL at all);
- queries: a bare ``SELECT count(*)`` over the same rows (the chain's day/week, the store's day), and
  the store's day chart from the SQLite backend holding that store's crossings.

    .venv/bin/python bench/central.py [--stores 50] [--days 30] [--per-day 1500] [--devices 2]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from footfall.central.db import StoreInfo, add_device, connect, migrate, put_store  # noqa: E402
from footfall.central.pgserver import PgServer, free_port  # noqa: E402
from footfall.common.chain import INGEST_PATH, MAX_BATCH  # noqa: E402
from footfall.edge.store import CountStore  # noqa: E402
from footfall.edge.types import CrossingEvent, Direction  # noqa: E402

ZONES = ("Europe/Berlin", "Europe/Lisbon", "America/New_York", "Asia/Tokyo")
CLASSES = ("child", "female_adult", "male_adult")
FIRST = date(2026, 10, 1)


def store_info(k: int) -> StoreInfo:
    return StoreInfo(
        f"s{k:04d}", region=f"r{k % 8}", timezone=ZONES[k % len(ZONES)], entrances=("cam0/door", "cam1/door")
    )


def crossings(k: int, days: int, per_day: int) -> Iterator[tuple]:
    """(camera, session, line, track_id, frame, ts, class, direction) of store ``k``, in time order per camera."""
    rng = np.random.default_rng(k)
    tz = ZoneInfo(ZONES[k % len(ZONES)])
    for cam in ("cam0", "cam1"):
        for d in range(days):
            day = FIRST + timedelta(days=d)
            t0 = datetime(day.year, day.month, day.day, 8, tzinfo=tz).timestamp()
            ts = np.sort(t0 + rng.uniform(0, 13 * 3600, per_day))
            lines = rng.integers(0, 2, per_day)
            cls = rng.integers(0, 3, per_day)
            out = rng.random(per_day) < 0.5
            session = f"l-{cam}-{day:%Y%m%d}"
            for j in range(per_day):
                yield (cam, session, ("door", "aisle")[lines[j]], j // 2, j, float(ts[j]), CLASSES[cls[j]],
                       "out" if out[j] else "in")  # fmt: skip


def batches(k: int, device: str, days: int, per_day: int) -> Iterator[bytes]:
    """The device's request bodies, as 'edge ship' sends them (seq in storing order)."""
    rows: list[str] = []
    for seq, (cam, session, line, tid, frame, ts, cls, direction) in enumerate(crossings(k, days, per_day), 1):
        rows.append(
            f'{{"seq":{seq},"camera":"{cam}","session":"{session}","line":"{line}","track_id":{tid},'
            f'"frame":{frame},"ts":{ts!r},"class_name":"{cls}","direction":"{direction}"}}'
        )
        if len(rows) == MAX_BATCH:
            yield f'{{"device":"{device}","sent_ts":{time.time()},"crossings":[{",".join(rows)}]}}'.encode()
            rows = []
    if rows:
        yield f'{{"device":"{device}","sent_ts":{time.time()},"crossings":[{",".join(rows)}]}}'.encode()


def ingest(url: str, tokens: dict[int, str], days: int, per_day: int, devices: int) -> tuple[int, float]:
    """Ship every store's crossings with ``devices`` concurrent shippers; return (rows, seconds)."""
    todo = list(tokens)
    lock = threading.Lock()
    total = [0]
    errors: list[str] = []

    def worker() -> None:
        with httpx.Client(timeout=120) as client:
            while True:
                with lock:
                    if not todo or errors:
                        return
                    k = todo.pop()
                for body in batches(k, f"d{k:04d}", days, per_day):
                    r = client.post(url + INGEST_PATH, content=body, headers={"Authorization": f"Bearer {tokens[k]}",
                                    "Content-Type": "application/json"})  # fmt: skip
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:200]}")
                        return
                    with lock:
                        total[0] += r.json()["added"]

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(devices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"ingest failed: {errors[0]}")
    return total[0], time.perf_counter() - t0


def copy_baseline(dsn: str, stores: int, days: int, per_day: int, limit: int) -> tuple[int, float]:
    """Bare COPY of the first ``limit`` rows (text format) into an unindexed table."""
    with connect(dsn) as con:
        con.execute(
            "CREATE UNLOGGED TABLE IF NOT EXISTS bare (store text, camera text, session text, line text, track_id int, "
            "frame int, ts float8, class text, direction text)"
        )
        con.execute("TRUNCATE bare")
        buf = io.StringIO()
        n = 0
        for k in range(stores):
            for row in crossings(k, days, per_day):
                buf.write(f"s{k:04d}\t" + "\t".join(map(str, row)) + "\n")
                n += 1
                if n >= limit:
                    break
            if n >= limit:
                break
        data = buf.getvalue()
        t0 = time.perf_counter()
        with con.cursor().copy("COPY bare FROM STDIN") as copy:
            copy.write(data)
        con.commit()
        return n, time.perf_counter() - t0


def timed(fn, repeat: int = 5) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stores", type=int, default=50)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--per-day", type=int, default=1500)
    ap.add_argument("--devices", type=int, default=2, help="Concurrent shippers.")
    ap.add_argument("--json", type=Path, help="Also write the figures here.")
    args = ap.parse_args()
    expected = args.stores * 2 * args.days * args.per_day
    print(f"chain: {args.stores} stores x 2 cameras x 2 lines x {args.days} days x {args.per_day}/camera/day = "
          f"{expected:,} crossings", flush=True)  # fmt: skip
    with PgServer.temporary() as pg, tempfile.TemporaryDirectory() as tmp:
        dsn = pg.create_db("chain")
        migrate(dsn)
        with connect(dsn) as con:
            tokens = {}
            for k in range(args.stores):
                put_store(con, store_info(k))
                tokens[k] = add_device(con, f"s{k:04d}", f"d{k:04d}")
        port, dash_port = free_port(), free_port()
        log = open(Path(tempfile.gettempdir()) / "footfall-bench-central.log", "w")  # noqa: SIM115
        py = [sys.executable, "-m", "footfall.cli"]
        server = subprocess.Popen([*py, "central", "serve", "--dsn", dsn, "--port", str(port)], stdout=log, stderr=log)
        dash = subprocess.Popen([*py, "serve", "--db", dsn, "--port", str(dash_port)], stdout=log, stderr=log)
        try:
            url = f"http://127.0.0.1:{port}"
            for u in (f"{url}/health", f"http://127.0.0.1:{dash_port}/api/health"):
                for _ in range(200):
                    try:
                        if httpx.get(u).status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.2)
            rows, seconds = ingest(url, tokens, args.days, args.per_day, args.devices)
            assert rows == expected, f"ingested {rows}, expected {expected}"
            n_copy, copy_s = copy_baseline(dsn, args.stores, args.days, args.per_day, min(expected, 1_000_000))
            with connect(dsn, autocommit=True) as con:  # settle: statistics, then the writes' dirty pages
                con.execute("DROP TABLE bare")
                con.execute("VACUUM ANALYZE")
                con.execute("CHECKPOINT")
                size = con.execute("SELECT pg_database_size(current_database())").fetchone()[0]

            client = httpx.Client(base_url=f"http://127.0.0.1:{dash_port}", timeout=120)
            day = FIRST + timedelta(days=args.days - 1)

            def get(path: str, **params: object) -> None:
                r = client.get(path, params=params)  # type: ignore[arg-type]
                r.raise_for_status()

            chain_day = timed(lambda: get("/api/chain", day=day.isoformat(), days=1))
            chain_week = timed(lambda: get("/api/chain", day=(day - timedelta(days=6)).isoformat(), days=7))
            store_day = timed(
                lambda: get("/api/counts", store="s0001", start=day.isoformat(), interval=900, all_lines="true")
            )
            with connect(dsn) as con:
                # the least a count of those rows costs: the day partitions only, no join, no grouping
                bare = "SELECT count(*) FROM crossings WHERE day BETWEEN %s AND %s"
                week0 = day - timedelta(days=6)
                bare_day = timed(lambda: con.execute(bare, (day, day)).fetchone())
                bare_week = timed(lambda: con.execute(bare, (week0, day)).fetchone())
                bare_store = timed(lambda: con.execute(bare + " AND store = 's0001'", (day, day)).fetchone())
            # the same store's day chart from the SQLite backend, through the same HTTP server code
            db = Path(tmp) / "s0001.db"
            with CountStore(db) as s:
                sessions: dict[str, list[CrossingEvent]] = {}
                for c, session, ln, tid, fr, ts, cls, dr in crossings(1, args.days, args.per_day):
                    sessions.setdefault(session, []).append(CrossingEvent(c, ln, tid, fr, ts, cls, Direction(dr), None))
                for session, events in sessions.items():
                    s.commit(session, events)
            lite_port = free_port()
            zone = store_info(1).timezone
            lite = subprocess.Popen([*py, "serve", "--db", str(db), "--port", str(lite_port), "--timezone", zone],
                                    stdout=log, stderr=log)  # fmt: skip
            try:
                lite_client = httpx.Client(base_url=f"http://127.0.0.1:{lite_port}", timeout=120)
                for _ in range(200):
                    try:
                        if lite_client.get("/api/health").status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.2)
                # every line: the SQLite file alone has no catalogue to name its entrances
                params = {"start": day.isoformat(), "interval": 900, "all_lines": "true"}
                a = lite_client.get("/api/counts", params=params).json()
                b = client.get("/api/counts", params=params | {"store": "s0001"}).json()
                assert a["series"] == b["series"], "the two backends disagree"
                sqlite_day = timed(lambda: lite_client.get("/api/counts", params=params).raise_for_status())
            finally:
                lite.terminate()
                lite.wait()
        finally:
            server.terminate()
            dash.terminate()
            server.wait()
            dash.wait()
    result = {
        "crossings": expected,
        "database_gb": round(size / 1e9, 2),
        "ingest_per_s": round(rows / seconds),
        "ingest_s": round(seconds, 1),
        "copy_baseline_per_s": round(n_copy / copy_s),
        "ingest_vs_copy": round((rows / seconds) / (n_copy / copy_s), 3),
        "chain_day_ms": round(chain_day, 1),
        "chain_week_ms": round(chain_week, 1),
        "store_day_ms": round(store_day, 1),
        "bare_count_day_ms": round(bare_day, 1),
        "bare_count_week_ms": round(bare_week, 1),
        "bare_count_store_day_ms": round(bare_store, 1),
        "sqlite_store_day_ms": round(sqlite_day, 1),
        "chain_day_vs_count": round(chain_day / bare_day, 2),
        "chain_week_vs_count": round(chain_week / bare_week, 2),
        "store_day_vs_count": round(store_day / bare_store, 2),
        "store_day_vs_sqlite": round(store_day / sqlite_day, 2),
    }
    for k, v in result.items():
        print(f"{k:>26}: {v}")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, **result}, indent=1))


if __name__ == "__main__":
    main()
