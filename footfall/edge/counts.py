"""The read API of the count database (schema and writes: ``footfall.edge.store``).

``edge report`` and the dashboard read crossings only through here: counts per local interval, the
crossings at the entrances (occupancy, visit length), the span of the data and the lines that ever
counted. The connection is read-only; a missing file is a ``FileNotFoundError`` that says what to run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any, NamedTuple

from footfall.common.localtime import DAY_S, check_interval, local_days
from footfall.edge.store import ROLLUP_S

GROUPS = ("camera", "line", "class")


@dataclass(frozen=True)
class Filter:
    """Which crossings count: empty = all."""

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


EVERYTHING = Filter()


class CountRow(NamedTuple):
    """Crossings of one interval and group: ``start`` of the interval (epoch seconds), the values of the
    grouping columns in ``GROUPS`` order as asked, the direction and the count."""

    start: float
    group: tuple[str, ...]
    direction: str
    n: int


class Crossing(NamedTuple):
    """One stored crossing."""

    camera: str
    session: str
    track_id: int
    ts: float
    class_name: str
    direction: str


class CountReader:
    """Read-only queries over one count database (one connection per call: safe across threads)."""

    def __init__(self, db: Path) -> None:
        self.db = Path(db)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self.db.exists():
            raise FileNotFoundError(f"count store {self.db} does not exist yet: run 'footfall edge run' first")
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            yield con
        finally:
            con.close()

    def exists(self) -> bool:
        return self.db.exists()

    def data_range(self) -> tuple[float, float] | None:
        """Times of the first and last crossing."""
        with self._connect() as con:  # two queries: SQLite answers a lone MIN or MAX from the index
            lo = con.execute("SELECT MIN(ts) FROM events").fetchone()[0]
            hi = con.execute("SELECT MAX(ts) FROM events").fetchone()[0]
        return None if lo is None else (float(lo), float(hi))

    def lines_seen(self) -> dict[str, list[str]]:
        """Cameras and lines that have crossings (a central copy knows no config)."""
        with self._connect() as con:
            table = "lines_seen" if _has_table(con, "lines_seen") else "events"
            rows = con.execute(f"SELECT DISTINCT camera, line FROM {table} ORDER BY 1, 2").fetchall()
        out: dict[str, list[str]] = {}
        for cam, line in rows:
            out.setdefault(cam, []).append(line)
        return out

    def interval_counts(
        self,
        since: float,
        until: float,
        interval_s: int,
        tz: tzinfo,
        group_by: Sequence[str] = GROUPS,
        flt: Filter = EVERYTHING,
    ) -> list[CountRow]:
        """Crossings with ``since <= ts < until`` per interval, group and direction, in time order.

        Intervals start at local midnight in ``tz`` and divide the day (``interval_s`` must divide
        86,400, or be 86,400 for whole local days), so an hour is on the hour and a day is a calendar
        day in the store's zone. Whole quarter-hours are read from the rollup the store keeps.
        """
        check_interval(interval_s)
        bad = [g for g in group_by if g not in GROUPS]
        if bad:
            raise ValueError(f"group_by {bad}: choose from {', '.join(GROUPS)}")
        cols = "".join(f", {g}" for g in group_by)
        where, params = flt.sql()
        rows: list[CountRow] = []
        with self._connect() as con:
            rollup = _has_table(con, "counts_15m")
            for t0, t1 in local_days(since, until, tz):
                step = t1 - t0 if interval_s == DAY_S else interval_s
                lo, hi = max(t0, since), min(t1, until)
                if rollup and all(v % ROLLUP_S == 0 for v in (step, t0, lo, hi)):
                    table, ts, n = "counts_15m", "bucket", "SUM(n)"
                else:
                    table, ts, n = "events", "ts", "COUNT(*)"
                sql = (
                    f"SELECT CAST(({ts} - :t0) / :i AS INTEGER){cols}, direction, {n} FROM {table} "
                    f"WHERE {ts} >= :lo AND {ts} < :hi{where} GROUP BY 1{cols}, direction ORDER BY 1{cols}, direction"
                )
                for row in con.execute(sql, {"t0": t0, "i": step, "lo": lo, "hi": hi, **params}):
                    rows.append(CountRow(t0 + row[0] * step, tuple(row[1:-2]), row[-2], int(row[-1])))
        return rows

    def crossings(self, since: float, until: float, lines: Sequence[str] = ()) -> list[Crossing]:
        """In/out crossings (no U-turns) with ``since <= ts < until`` in time order; ``lines`` as
        CAMERA/LINE (empty = every line)."""
        where, params = "", {}
        if lines:
            marks = ",".join(f":e{k}" for k in range(len(lines)))
            where, params = f" AND camera || '/' || line IN ({marks})", {f"e{k}": e for k, e in enumerate(lines)}
        with self._connect() as con:
            rows = con.execute(
                "SELECT camera, session, track_id, ts, class, direction FROM events "
                f"WHERE ts >= :t0 AND ts < :t1 AND direction != 'uturn'{where} ORDER BY ts",  # the index's order
                {"t0": since, "t1": until, **params},
            ).fetchall()
        return [Crossing._make(r) for r in rows]


def _has_table(con: sqlite3.Connection, name: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None
