"""What the dashboard shows, from the count database's read API (``footfall.edge.counts``): counts per
interval, occupancy, dwell, totals against the week before.

Days are the store's local days (``tz``); an interval bucket starts at local midnight + k × interval,
so hourly buckets stay on the hour in every time zone and across daylight-saving changes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from footfall.common.localtime import DAY_S
from footfall.edge.counts import EVERYTHING, GROUPS, CountQueries, Filter

INTERVALS = (300, 600, 900, 1800, 3600, DAY_S)
MAX_DAYS = 370  # one request's range
MAX_BUCKETS = 9_000  # days × buckets a day: a year of hours, a month of 5 minutes
MAX_DWELL_DAYS = 93  # dwell reads every crossing of its range: a quarter at most
DWELL_BINS_MIN = (0, 1, 5, 15, 30, 60, 120)


class QueryError(ValueError):
    """A request the store cannot answer as asked (bad range, unknown interval); says the fix."""


@dataclass
class Store:
    """The dashboard's view of one store's crossings (a device's SQLite or the chain's PostgreSQL) in its
    time zone, with its entrances.

    The store's visitors are the crossings of its entrance lines: every headline (people in and out,
    the day against last week, occupancy, visit length) is about them, so a camera with four lines over
    one door counts its people once. A request that names cameras or lines gets those instead, and
    ``every_line`` gives every line (the per-line table)."""

    reader: CountQueries
    tz: ZoneInfo
    opening_hour: int = 0
    entrances: list[str] = field(default_factory=list)  # CAMERA/LINE; empty = every line
    max_dwell_s: float = 12 * 3600

    def exists(self) -> bool:
        return self.reader.exists()

    def lines_of(self, flt: Filter, every_line: bool = False) -> Filter:
        """The lines a number is about: those the filter names, else the entrances (or every line)."""
        if flt.names_lines or every_line or not self.entrances:
            return flt
        return replace(flt, pairs=tuple(self.entrances))

    def headline_lines(self) -> list[str] | str:
        """What the headline counts, for the page to say: the entrance lines, or 'every line'."""
        return list(self.entrances) or "every line"

    # -- days and buckets -------------------------------------------------------------------------

    def day_start(self, d: date, hour: int = 0) -> float:
        return datetime.combine(d, time(hour), self.tz).timestamp()

    def days(self, start: date, end: date) -> list[date]:
        if end < start:
            raise QueryError(f"end {end} is before start {start}; pick an end on or after the start")
        n = (end - start).days + 1
        if n > MAX_DAYS:
            raise QueryError(f"{n} days asked; ask for at most {MAX_DAYS} days at once")
        return [start + timedelta(days=k) for k in range(n)]

    @staticmethod
    def check_interval(interval_s: int, days: int = 1) -> None:
        """Refuse an interval that is not offered, or more buckets than one answer should carry."""
        if interval_s not in INTERVALS:
            raise QueryError(f"interval {interval_s}s: choose one of {', '.join(map(str, INTERVALS))}")

        def per_day(interval: int) -> int:
            return -(-DAY_S // interval)  # buckets of a day, the last one possibly short

        buckets = days * per_day(interval_s)
        if buckets > MAX_BUCKETS:
            coarser = [i for i in INTERVALS if days * per_day(i) <= MAX_BUCKETS]
            raise QueryError(
                f"{days} days at {interval_s}s are {buckets} intervals (at most {MAX_BUCKETS}): ask for "
                f"{', '.join(map(str, coarser))} s, or at most {MAX_BUCKETS // per_day(interval_s)} days"
            )

    def local(self, ts: float) -> str:
        return datetime.fromtimestamp(ts, self.tz).isoformat(timespec="minutes")

    def data_range(self) -> tuple[str, str] | None:
        """First and last local day with a crossing."""
        span = self.reader.data_range()
        if span is None:
            return None
        lo, hi = span
        return (
            datetime.fromtimestamp(lo, self.tz).date().isoformat(),
            datetime.fromtimestamp(hi, self.tz).date().isoformat(),
        )

    def cameras(self) -> dict[str, list[str]]:
        """Cameras and lines that have crossings (a central copy knows no config)."""
        return self.reader.lines_seen()

    # -- counts -----------------------------------------------------------------------------------

    def counts(
        self,
        start: date,
        end: date,
        interval_s: int,
        group_by: tuple[str, ...],
        flt: Filter = EVERYTHING,
        every_line: bool = False,
    ) -> dict[str, Any]:
        """Crossings per interval of ``[start, end]`` (local days), one series per group and direction,
        of the entrance lines unless ``flt`` names lines or ``every_line``."""
        lines = self.lines_of(flt, every_line)
        self.check_interval(interval_s, (end - start).days + 1)
        bad = [g for g in group_by if g not in GROUPS]
        if bad:
            raise QueryError(f"group_by {bad}: choose from {', '.join(GROUPS)}")
        days = self.days(start, end)
        bucket_ts: list[float] = []
        for d in days:
            t0, t1 = self.day_start(d), self.day_start(d + timedelta(days=1))
            step = int(t1 - t0) if interval_s == DAY_S else interval_s
            bucket_ts.extend(t0 + k * step for k in range(int(np.ceil((t1 - t0) / step))))
        index = {t: i for i, t in enumerate(bucket_ts)}
        series: dict[tuple[str, ...], dict[int, int]] = {}
        uturns = 0
        since, until = self.day_start(days[0]), self.day_start(days[-1] + timedelta(days=1))
        for row in self.reader.interval_counts(since, until, interval_s, self.tz, group_by, lines):
            if row.direction == "uturn":
                uturns += row.n
                continue
            cells = series.setdefault((*row.group, row.direction), {})
            i = index[row.start]
            cells[i] = cells.get(i, 0) + row.n
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
            "lines": "as asked" if flt.names_lines else "every line" if every_line else self.headline_lines(),
        }

    def csv_rows(
        self, start: date, end: date, interval_s: int, flt: Filter = EVERYTHING, every_line: bool = False
    ) -> Iterator[list[str]]:
        """Long format, one row per non-empty interval × camera × line × class × direction, of the same
        lines as the page's headline unless asked otherwise; ``entrance`` says which rows are visitors."""
        data = self.counts(start, end, interval_s, GROUPS, flt, every_line)
        entrances = set(self.entrances)
        yield ["interval_start", "interval_end", "camera", "line", "class", "direction", "count", "entrance"]
        edges = [self.local(t) for t in [*data["bucket_ts"], self.day_start(end + timedelta(days=1))]]
        cells = sorted(
            (i, k) for k, s in enumerate(data["series"]) for i, v in enumerate(s["values"]) if v
        )  # by interval, then series
        for i, k in cells:
            s = data["series"][k]
            entrance = not entrances or f"{s['camera']}/{s['line']}" in entrances
            row = [s["camera"], s["line"], s["class"], s["direction"], str(s["values"][i])]
            yield [edges[i], edges[i + 1], *row, "yes" if entrance else "no"]

    # -- occupancy and dwell ----------------------------------------------------------------------

    def business_day(self, d: date) -> tuple[float, float]:
        """The store's day ``d``: from opening hour to the same hour the next day."""
        return self.day_start(d, self.opening_hour), self.day_start(d + timedelta(days=1), self.opening_hour)

    def occupancy(self, d: date, interval_s: int, now: float | None = None) -> dict[str, Any]:
        """People inside at the end of each interval of business day ``d``: in − out at the entrances
        since opening, never below zero (someone leaving who came in before the reset, or a miss,
        does not make it negative), by class and in all."""
        self.check_interval(interval_s)
        t0, t1 = self.business_day(d)
        rows = self.reader.crossings(t0, t1, self.lines_of(EVERYTHING))
        step = int(t1 - t0) if interval_s == DAY_S else interval_s
        ends = np.array([min(t0 + (k + 1) * step, t1) for k in range(int(np.ceil((t1 - t0) / step)))])
        ts = np.asarray([r.ts for r in rows], dtype=float)
        delta = np.asarray([1 if r.direction == "in" else -1 for r in rows], dtype=np.int64)
        names: dict[str, int] = {}
        codes = np.asarray([names.setdefault(r.class_name, len(names)) for r in rows], dtype=np.int32)

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
            "entrances": self.headline_lines(),
        }

    def dwell(self, start: date, end: date) -> dict[str, Any]:
        """Time between a track's 'in' and its next 'out' at the entrances, for tracks seen doing both
        (one camera sees the person enter and leave; people who leave by another camera's door or
        are re-identified under a new id are not matched)."""
        n = (end - start).days + 1
        if n > MAX_DWELL_DAYS:
            raise QueryError(f"visit lengths over {n} days; ask for at most {MAX_DWELL_DAYS} days")
        t0 = self.business_day(self.days(start, end)[0])[0]
        t1 = self.business_day(end)[1]
        rows = self.reader.crossings(t0, t1, self.lines_of(EVERYTHING))
        visits: list[tuple[str, float]] = []
        entered: dict[tuple[str, str, int], tuple[float, str]] = {}  # track → its last 'in'
        for cam, session, tid, ts, cls, direction in rows:
            key = (cam, session, tid)
            if direction == "in":
                entered[key] = (ts, cls)
            elif (came := entered.pop(key, None)) is not None and ts - came[0] <= self.max_dwell_s:
                visits.append((came[1], ts - came[0]))
        return {"start": start.isoformat(), "end": end.isoformat(), **dwell_stats(visits)}

    def summary(self, d: date, interval_s: int, flt: Filter = EVERYTHING) -> dict[str, Any]:
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
