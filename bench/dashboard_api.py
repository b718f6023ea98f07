"""Dashboard API over a large synthetic store history, through real HTTP (``footfall serve --db``).

Builds a count store of ``--cameras`` cameras × 2 lines × ``--days`` days with ``--per-day`` crossings
per camera and day (opening hours 08:00–21:00, a midday and an evening peak, three classes), then
times the API calls the charts page makes for one day, and a week, with 15-minute intervals.

Baseline, measured in the same run on the same file: one bare SQL pass over the day's rows
(``SELECT COUNT(*)`` on the time index), i.e. the least any answer about that day must cost.

    .venv/bin/python bench/dashboard_api.py [--cameras 100] [--days 60] [--per-day 2000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from footfall.common.classes import PRODUCT_CLASSES  # noqa: E402
from footfall.edge.store import CountStore  # noqa: E402
from tests.s3_server import _free_port  # noqa: E402

CLASSES = list(PRODUCT_CLASSES)


def build(db: Path, cameras: int, days: int, per_day: int, first: datetime, seed: int = 0) -> int:
    """Write the synthetic history with the edge's own schema; return the number of events."""
    CountStore(db).close()  # the schema and indexes of the edge
    rng = np.random.default_rng(seed)
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA journal_mode=MEMORY")
    n = 0
    for d in range(days):
        day0 = (first + timedelta(days=d)).timestamp()
        rows = []
        for cam in range(cameras):
            k = int(rng.poisson(per_day))
            # hours after 08:00: a mixture around 12:30 and 17:30, inside opening hours
            hours = np.where(rng.random(k) < 0.5, rng.normal(4.5, 1.5, k), rng.normal(9.5, 1.5, k)).clip(0, 12.99)
            ts = np.sort(day0 + 8 * 3600 + hours * 3600)
            cls = rng.choice(3, k, p=[0.15, 0.45, 0.40])
            direction = rng.choice(["in", "out", "uturn"], k, p=[0.49, 0.49, 0.02])
            line = rng.integers(0, 2, k)
            rows += [
                (
                    f"cam{cam:03d}",
                    "s",
                    f"door{int(line[i])}",
                    d * 1_000_000 + i,  # track ids unique over the history
                    i,
                    float(ts[i]),
                    CLASSES[int(cls[i])],
                    str(direction[i]),
                    "in" if direction[i] == "uturn" else None,
                    "v1",
                )
                for i in range(k)
            ]
        con.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        con.commit()
        n += len(rows)
    con.execute("ANALYZE")
    con.commit()
    con.close()
    return n


def timed(fn, repeat: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, default=100)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--per-day", type=int, default=2000, help="crossings per camera and day")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--db", type=Path, help="keep the store here (default: a temporary folder)")
    args = ap.parse_args()

    first = datetime(2026, 9, 1, tzinfo=UTC)
    tmp = tempfile.TemporaryDirectory()
    db = args.db or Path(tmp.name) / "history.db"
    t = time.perf_counter()
    events = build(db, args.cameras, args.days, args.per_day, first) if not db.exists() else None
    build_s = time.perf_counter() - t
    size_mb = db.stat().st_size / 1e6
    day = (first + timedelta(days=args.days - 1)).date()
    week0 = day - timedelta(days=6)
    print(
        f"store: {events or 'existing'} events, {args.cameras} cameras, {args.days} days, {size_mb:.0f} MB "
        f"(built in {build_s:.0f} s)"
    )

    d0 = datetime.combine(day, datetime.min.time(), UTC).timestamp()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    base_s, day_rows = timed(
        lambda: con.execute("SELECT COUNT(*) FROM events WHERE ts >= ? AND ts < ?", (d0, d0 + 86400)).fetchone()[0],
        args.repeat,
    )
    con.close()

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "footfall.cli", "serve", "--db", str(db), "--port", str(port), "--timezone", "UTC"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results = {}
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=120) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/api/health")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            calls = {
                "day, by class (chart)": ("/api/counts", {"start": day, "interval": 900, "group_by": "class"}),
                "day, by camera×line×class": (
                    "/api/counts",
                    {"start": day, "interval": 900, "group_by": "camera,line,class"},
                ),
                "day, CSV (every series)": ("/api/counts.csv", {"start": day, "interval": 900}),
                "day, summary (vs the week before)": ("/api/summary", {"day": day, "interval": 900}),
                "day, occupancy": ("/api/occupancy", {"day": day, "interval": 900}),
                "day, visit length (dwell)": ("/api/dwell", {"start": day}),
                "week, by class (chart)": (
                    "/api/counts",
                    {"start": week0, "end": day, "interval": 900, "group_by": "class"},
                ),
            }
            print(
                f"baseline: bare SQL count of the day's {day_rows} rows: {base_s * 1000:.1f} ms (median of "
                f"{args.repeat})"
            )
            print(f"{'call':<50} {'ms':>9} {'× baseline':>11} {'bytes':>10}")
            for name, (path, params) in calls.items():
                client.get(path, params=params).raise_for_status()  # warm the page cache once
                s, r = timed(lambda p=path, q=params: client.get(p, params=q), args.repeat)
                r.raise_for_status()
                results[name] = {"ms": round(s * 1000, 1), "ratio": round(s / base_s, 1), "bytes": len(r.content)}
                print(f"{name:<50} {s * 1000:9.1f} {s / base_s:11.1f} {len(r.content):10d}")
    finally:
        server.terminate()
        server.wait()
    print(
        json.dumps({"events": events, "day_rows": day_rows, "baseline_ms": round(base_s * 1000, 2), "calls": results})
    )


if __name__ == "__main__":
    main()
