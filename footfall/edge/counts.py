"""The read API of the count database (schema and writes: ``footfall.edge.store``).

``edge report`` and the dashboard read crossings only through here: counts per local interval, the
crossings at the entrances (occupancy, visit length), the span of the data and the lines that ever
counted. The connection is read-only; a missing file is a ``FileNotFoundError`` that says what to run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any, NamedTuple

from footfall.common.localtime import DAY_S, check_interval, local_days
from footfall.edge.store import ROLLUP_S

GROUPS = ("camera", "line", "class")
Run = Callable[[str, dict[str, Any]], list[tuple]]  # runs SQL with :name parameters, returns the rows


@dataclass(frozen=True)
class Filter:
    """Which crossings count: empty = all. ``pairs`` are lines as CAMERA/LINE (a line name is only
    unique within its camera): the store's entrances."""

    cameras: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    pairs: tuple[str, ...] = ()

    def sql(self) -> tuple[str, dict[str, Any]]:
        parts, params = [], {}
        columns = (("camera", self.cameras), ("line", self.lines), ("class", self.classes))
        for key, col, values in (*((c, c, v) for c, v in columns), ("pair", "camera || '/' || line", self.pairs)):
            if values:
                marks = ",".join(f":{key}{k}" for k in range(len(values)))
                parts.append(f" AND {col} IN ({marks})")
                params.update({f"{key}{k}": v for k, v in enumerate(values)})
        return "".join(parts), params

    @property
    def names_lines(self) -> bool:
        """Whether the filter picks cameras or lines itself (else the caller's default lines apply)."""
        return bool(self.cameras or self.lines or self.pairs)


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


@dataclass(frozen=True)
class Dialect:
    """What differs between the SQL of two count stores with the same columns: the crossings table, the
    rows of one store (a central store holds many), whole-number division, where the lines are listed."""

    events: str  # the table of crossings
    scope: str  # extra WHERE condition (with a leading AND) selecting one store's rows
    floor: str  # floor of a non-negative number, '{}' standing for it
    lines: str  # SELECT camera, line of every line that ever counted


class CountQueries:
    """The read queries of a count store, written once for every backend: SQLite on a device (below),
    PostgreSQL for a chain (``footfall.central.reader``). A backend gives its ``Dialect`` and runs SQL
    with ``:name`` parameters."""

    dialect: Dialect
    has_rollup: bool = True

    def _query(self) -> AbstractContextManager[Run]:
        """A function running SQL (``:name`` parameters) on one connection until the block ends: the
        queries of one call share it."""
        raise NotImplementedError

    def _scope(self) -> dict[str, Any]:
        """The parameters of ``dialect.scope``."""
        return {}

    def exists(self) -> bool:
        raise NotImplementedError

    def data_range(self) -> tuple[float, float] | None:
        """Times of the first and last crossing."""
        d, scope = self.dialect, self._scope()
        with self._query() as run:  # two queries: a lone MIN or MAX is answered from the index
            lo = run(f"SELECT MIN(ts) FROM {d.events} WHERE 1=1{d.scope}", scope)[0][0]
            hi = run(f"SELECT MAX(ts) FROM {d.events} WHERE 1=1{d.scope}", scope)[0][0]
        return None if lo is None else (float(lo), float(hi))

    def lines_seen(self) -> dict[str, list[str]]:
        """Cameras and lines that have crossings (a central copy knows no config)."""
        out: dict[str, list[str]] = {}
        with self._query() as run:
            rows = run(f"SELECT DISTINCT camera, line FROM ({self.dialect.lines}) l ORDER BY 1, 2", self._scope())
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
        d = self.dialect
        cols = "".join(f", {g}" for g in group_by)
        where, params = flt.sql()
        rows: list[CountRow] = []
        rollup = self.has_rollup
        with self._query() as run:  # one connection for every day of the range
            for t0, t1 in local_days(since, until, tz):
                step = t1 - t0 if interval_s == DAY_S else interval_s
                lo, hi = max(t0, since), min(t1, until)
                if rollup and all(v % ROLLUP_S == 0 for v in (step, t0, lo, hi)):
                    table, ts, n = "counts_15m", "bucket", "SUM(n)"
                else:
                    table, ts, n = d.events, "ts", "COUNT(*)"
                k = d.floor.format(f"({ts} - :t0) / :i")
                sql = (
                    f"SELECT {k}{cols}, direction, {n} FROM {table} WHERE {ts} >= :lo AND {ts} < :hi{d.scope}{where} "
                    f"GROUP BY 1{cols}, direction ORDER BY 1{cols}, direction"
                )
                args = {"t0": t0, "i": step, "lo": lo, "hi": hi, **self._scope(), **params}
                for row in run(sql, args):
                    rows.append(CountRow(t0 + int(row[0]) * step, tuple(row[1:-2]), row[-2], int(row[-1])))
        return rows

    def crossings(self, since: float, until: float, flt: Filter = EVERYTHING) -> list[Crossing]:
        """In/out crossings (no U-turns) with ``since <= ts < until`` in time order."""
        d = self.dialect
        where, params = flt.sql()
        with self._query() as run:
            rows = run(
                f"SELECT camera, session, track_id, ts, class, direction FROM {d.events} "
                f"WHERE ts >= :t0 AND ts < :t1 AND direction != 'uturn'{d.scope}{where} ORDER BY ts",  # index order
                {"t0": since, "t1": until, **self._scope(), **params},
            )
        return [Crossing(r[0], r[1], int(r[2]), float(r[3]), r[4], r[5]) for r in rows]


SQLITE = Dialect(events="events", scope="", floor="CAST({} AS INTEGER)", lines="SELECT camera, line FROM lines_seen")
# a store written before the rollup, read before any 'edge run' has opened (and upgraded) it
SQLITE_OLD = Dialect(events="events", scope="", floor=SQLITE.floor, lines="SELECT camera, line FROM events")


class CountReader(CountQueries):
    """Read-only queries over one device's count database (one connection per call: safe across threads)."""

    def __init__(self, db: Path) -> None:
        self.db = Path(db)
        self._rollup_seen = False

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

    @property
    def has_rollup(self) -> bool:  # type: ignore[override]
        """Whether the store has its rollup (a store from before it, not opened by an edge run since);
        once seen it stays (nothing drops it), so only a store without one asks again."""
        if not self._rollup_seen:
            with self._connect() as con:
                found = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'counts_15m'").fetchone()
            self._rollup_seen = found is not None
        return self._rollup_seen

    @property
    def dialect(self) -> Dialect:  # type: ignore[override]
        return SQLITE if self.has_rollup else SQLITE_OLD

    @contextmanager
    def _query(self) -> Iterator[Run]:
        with self._connect() as con:
            yield lambda sql, params: con.execute(sql, params).fetchall()
