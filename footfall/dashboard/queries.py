"""What the dashboard shows, read from the edge's SQLite store (read-only): counts per interval,
occupancy, dwell, totals against the week before.

Days are the store's local days (``tz``); an interval bucket starts at local midnight + k × interval,
so hourly buckets stay on the hour in every time zone and across daylight-saving changes.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from footfall.edge.store import ROLLUP_S

GROUPS = ("camera", "line", "class")
DAY = 86400
INTERVALS = (300, 600, 900, 1800, 3600, DAY)
DWELL_BINS_MIN = (0, 1, 5, 15, 30, 60, 120)


class QueryError(ValueError):
    """A request the store cannot answer as asked (bad range, unknown interval); says the fix."""


@dataclass(frozen=True)
class Filter:
    cameras: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()

    def sql(self) -> tuple[str, dict[str, Any]]:
        parts, params = [], {}
        for col, values in (("camera", self.cameras), ("line", self.lines), ("class", self.classes)):
            if values:
                marks = ",".join(f":{col}{k}" for k in range(len(values)))
                parts.append(f" AND {col} IN ({marks})")
                params.update({f"{col}{k}": v for k, v in enumerate(values)})
        return "".join(parts), params


@dataclass
class Store:
    """Read-only view of a count store for one store's time zone and entrances."""

    db: Path
    tz: ZoneInfo
    opening_hour: int = 0
    entrances: list[str] = field(default_factory=list)  # CAMERA/LINE; empty = every line
    max_dwell_s: float = 12 * 3600

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self.db.exists():
            raise FileNotFoundError(f"count store {self.db} does not exist yet: run 'footfall edge run' first")
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            yield con
        finally:
            con.close()

    # -- days and buckets -------------------------------------------------------------------------

    def day_start(self, d: date, hour: int = 0) -> float:
        return datetime.combine(d, time(hour), self.tz).timestamp()

    def days(self, start: date, end: date) -> list[date]:
        if end < start:
            raise QueryError(f"end {end} is before start {start}; pick an end on or after the start")
        n = (end - start).days + 1
        if n > 370:
            raise QueryError(f"{n} days asked; ask for at most 370 days at once")
        return [start + timedelta(days=k) for k in range(n)]

    def local(self, ts: float) -> str:
        return datetime.fromtimestamp(ts, self.tz).isoformat(timespec="minutes")

    def data_range(self) -> tuple[str, str] | None:
        """First and last local day with a crossing."""
        with self._connect() as con:  # two queries: SQLite answers a lone MIN or MAX from the index
            lo = con.execute("SELECT MIN(ts) FROM events").fetchone()[0]
            hi = con.execute("SELECT MAX(ts) FROM events").fetchone()[0]
        if lo is None:
            return None
        return (
            datetime.fromtimestamp(lo, self.tz).date().isoformat(),
            datetime.fromtimestamp(hi, self.tz).date().isoformat(),
        )

    def cameras(self) -> dict[str, list[str]]:
        """Cameras and lines that have crossings (a central copy knows no config)."""
        with self._connect() as con:
            table = "lines_seen" if _has_table(con, "lines_seen") else "events"
            rows = con.execute(f"SELECT DISTINCT camera, line FROM {table} ORDER BY 1, 2").fetchall()
        out: dict[str, list[str]] = {}
        for cam, line in rows:
            out.setdefault(cam, []).append(line)
        return out

    # -- counts -----------------------------------------------------------------------------------

    def counts(
        self, start: date, end: date, interval_s: int, group_by: tuple[str, ...], flt: Filter = Filter()
    ) -> dict[str, Any]:
        """Crossings per interval of ``[start, end]`` (local days), one series per group and direction."""
        if interval_s not in INTERVALS:
            raise QueryError(f"interval {interval_s}s: choose one of {', '.join(map(str, INTERVALS))}")
        bad = [g for g in group_by if g not in GROUPS]
        if bad:
            raise QueryError(f"group_by {bad}: choose from {', '.join(GROUPS)}")
        cols = "".join(f", {g}" for g in group_by)
        where, params = flt.sql()
        bucket_ts: list[float] = []
        series: dict[tuple[str, ...], dict[int, int]] = {}
        uturns = 0
        with self._connect() as con:
            rollup = _has_table(con, "counts_15m") and interval_s % ROLLUP_S == 0
            for d in self.days(start, end):
                t0, t1 = self.day_start(d), self.day_start(d + timedelta(days=1))
                step = int(t1 - t0) if interval_s == DAY else interval_s
                first = len(bucket_ts)
                bucket_ts.extend(t0 + k * step for k in range(int(np.ceil((t1 - t0) / step))))
                if rollup and t0 % ROLLUP_S == 0:  # quarter-hours of the rollup fit the local buckets
                    sql = (
                        f"SELECT CAST((bucket - :t0) / :i AS INTEGER){cols}, direction, SUM(n) FROM counts_15m "
                        f"WHERE bucket >= :t0 AND bucket < :t1{where} GROUP BY 1{cols}, direction"
                    )
                else:
                    sql = (
                        f"SELECT CAST((ts - :t0) / :i AS INTEGER){cols}, direction, COUNT(*) FROM events "
                        f"WHERE ts >= :t0 AND ts < :t1{where} GROUP BY 1{cols}, direction"
                    )
                for row in con.execute(sql, {"t0": t0, "t1": t1, "i": step, **params}):
                    b, key, direction, n = row[0], row[1:-2], row[-2], row[-1]
                    if direction == "uturn":
                        uturns += n
                        continue
                    cells = series.setdefault((*key, direction), {})
                    cells[first + b] = cells.get(first + b, 0) + n
        out_series = []
        for key in sorted(series):
            values = [0] * len(bucket_ts)
            for i, n in series[key].items():
                values[i] = n
            entry: dict[str, Any] = dict(zip((*group_by, "direction"), key, strict=True))
            entry.update(values=values, total=sum(values))
            out_series.append(entry)
        totals: dict[str, Any] = {"in": 0, "out": 0, "uturns": uturns, "by_class": {}}
        for s in out_series:
            totals[s["direction"]] += s["total"]
            if "class" in s:
                totals["by_class"].setdefault(s["class"], {"in": 0, "out": 0})[s["direction"]] += s["total"]
        return {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "timezone": str(self.tz),
            "interval_s": interval_s,
            "group_by": list(group_by),
            "buckets": [self.local(t) for t in bucket_ts],
            "bucket_ts": bucket_ts,
            "series": out_series,
            "totals": totals,
        }

    def csv_rows(self, start: date, end: date, interval_s: int, flt: Filter = Filter()) -> Iterator[list[str]]:
        """Long format, one row per non-empty interval × camera × line × class × direction."""
        data = self.counts(start, end, interval_s, GROUPS, flt)
        yield ["interval_start", "interval_end", "camera", "line", "class", "direction", "count"]
        edges = [self.local(t) for t in [*data["bucket_ts"], self.day_start(end + timedelta(days=1))]]
        cells = sorted(
            (i, k) for k, s in enumerate(data["series"]) for i, v in enumerate(s["values"]) if v
        )  # by interval, then series
        for i, k in cells:
            s = data["series"][k]
            yield [edges[i], edges[i + 1], s["camera"], s["line"], s["class"], s["direction"], str(s["values"][i])]

    # -- occupancy and dwell ----------------------------------------------------------------------

    def _entrance_sql(self) -> tuple[str, dict[str, Any]]:
        if not self.entrances:
            return "", {}
        marks = ",".join(f":e{k}" for k in range(len(self.entrances)))
        return f" AND camera || '/' || line IN ({marks})", {f"e{k}": e for k, e in enumerate(self.entrances)}

    def _entrance_crossings(self, columns: str, t0: float, t1: float) -> list[tuple]:
        """``columns`` of the in/out crossings at the entrances in ``[t0, t1)``, in time order."""
        where, params = self._entrance_sql()
        with self._connect() as con:
            return con.execute(
                f"SELECT {columns} FROM events WHERE ts >= :t0 AND ts < :t1 AND direction != 'uturn'{where} "
                "ORDER BY ts",  # the index's order: no sort
                {"t0": t0, "t1": t1, **params},
            ).fetchall()

    def business_day(self, d: date) -> tuple[float, float]:
        """The store's day ``d``: from opening hour to the same hour the next day."""
        return self.day_start(d, self.opening_hour), self.day_start(d + timedelta(days=1), self.opening_hour)

    def occupancy(self, d: date, interval_s: int, now: float | None = None) -> dict[str, Any]:
        """People inside at the end of each interval of business day ``d``: in − out at the entrances
        since opening, never below zero (someone leaving who came in before the reset, or a miss,
        does not make it negative), by class and in all."""
        t0, t1 = self.business_day(d)
        rows = self._entrance_crossings("ts, 2 * (direction = 'in') - 1, class", t0, t1)
        step = int(t1 - t0) if interval_s == DAY else interval_s
        ends = np.array([min(t0 + (k + 1) * step, t1) for k in range(int(np.ceil((t1 - t0) / step)))])
        cols = list(zip(*rows, strict=True)) if rows else [(), (), ()]
        ts = np.asarray(cols[0], dtype=float)
        delta = np.asarray(cols[1], dtype=np.int64)
        names: dict[str, int] = {}
        codes = np.asarray([names.setdefault(c, len(names)) for c in cols[2]], dtype=np.int32)

        def series(mask: np.ndarray) -> tuple[list[int | None], int, int]:
            level = clamped_running_sum(delta[mask])
            t = ts[mask]
            at = np.searchsorted(t, ends, side="right")  # events at or before each interval's end
            values = np.where(at > 0, level[np.maximum(at - 1, 0)] if len(level) else 0, 0)
            peak = int(level.max()) if len(level) else 0
            current = int(level[-1]) if len(level) else 0
            # intervals that have not begun yet are unknown, not empty
            return (
                [None if now is not None and e - step > now else int(v) for e, v in zip(ends, values, strict=True)],
                peak,
                current,
            )

        total, peak, current = series(np.ones(len(rows), bool))
        by_class = {}
        for cls in sorted(names):
            values, cpeak, ccur = series(codes == names[cls])
            by_class[cls] = {"values": values, "peak": cpeak, "current": ccur}
        return {
            "date": d.isoformat(),
            "opens": self.local(t0),
            "interval_s": interval_s,
            "buckets": [self.local(e - step) for e in ends],
            "values": total,
            "peak": peak,
            "current": current,
            "by_class": by_class,
            "entrances": self.entrances or "every line",
        }

    def dwell(self, start: date, end: date) -> dict[str, Any]:
        """Time between a track's 'in' and its next 'out' at the entrances, for tracks seen doing both
        (one camera sees the person enter and leave; people who leave by another camera's door or
        are re-identified under a new id are not matched)."""
        t0 = self.business_day(self.days(start, end)[0])[0]
        t1 = self.business_day(end)[1]
        rows = self._entrance_crossings("camera, session, track_id, ts, class, direction", t0, t1)
        visits: list[tuple[str, float]] = []
        entered: dict[tuple[str, str, int], tuple[float, str]] = {}  # track → its last 'in'
        for cam, session, tid, ts, cls, direction in rows:
            key = (cam, session, tid)
            if direction == "in":
                entered[key] = (ts, cls)
            elif (came := entered.pop(key, None)) is not None and ts - came[0] <= self.max_dwell_s:
                visits.append((came[1], ts - came[0]))
        return {"start": start.isoformat(), "end": end.isoformat(), **dwell_stats(visits)}

    def summary(self, d: date, interval_s: int, flt: Filter = Filter()) -> dict[str, Any]:
        """Day ``d`` against the same weekday a week before: totals by class and the 'in' curve of both."""
        week_before = d - timedelta(days=7)
        this = self.counts(d, d, interval_s, ("class",), flt)
        last = self.counts(week_before, week_before, interval_s, (), flt)
        last_in = next((s["values"] for s in last["series"] if s["direction"] == "in"), [0] * len(last["buckets"]))
        return {
            "date": d.isoformat(),
            "compare_date": week_before.isoformat(),
            "counts": this,
            "compare": {"in": last["totals"]["in"], "out": last["totals"]["out"], "in_values": last_in},
        }


def _has_table(con: sqlite3.Connection, name: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def clamped_running_sum(delta: np.ndarray) -> np.ndarray:
    """Running sum of ``delta`` that never goes below zero (a reflected walk):
    ``S'_n = S_n - min(0, min_{k<=n} S_k)``, exact and vectorised."""
    if len(delta) == 0:
        return np.zeros(0, np.int64)
    s = np.cumsum(delta)
    return s - np.minimum(0, np.minimum.accumulate(s))


def dwell_stats(visits: list[tuple[str, float]]) -> dict[str, Any]:
    """Count, median, mean and 90th percentile in seconds, a histogram in minutes, and by class."""

    def stats(seconds: list[float]) -> dict[str, Any]:
        if not seconds:
            return {"visits": 0, "median_s": None, "mean_s": None, "p90_s": None}
        a = np.array(seconds)
        return {
            "visits": len(a),
            "median_s": round(float(np.median(a)), 1),
            "mean_s": round(float(a.mean()), 1),
            "p90_s": round(float(np.percentile(a, 90)), 1),
        }

    edges = [m * 60 for m in DWELL_BINS_MIN] + [float("inf")]
    hist = np.histogram([s for _, s in visits], bins=edges)[0] if visits else np.zeros(len(edges) - 1, int)
    labels = [f"{a}–{b} min" for a, b in itertools.pairwise(DWELL_BINS_MIN)]
    labels.append(f"≥ {DWELL_BINS_MIN[-1]} min")
    by_class: dict[str, list[float]] = {}
    for cls, s in visits:
        by_class.setdefault(cls, []).append(s)
    return {
        **stats([s for _, s in visits]),
        "histogram": [{"bin": label, "visits": int(n)} for label, n in zip(labels, hist, strict=True)],
        "by_class": {cls: stats(v) for cls, v in sorted(by_class.items())},
    }
