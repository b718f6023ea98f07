"""Reading the central store: one store's counts through the same queries as a device's SQLite
(``footfall.edge.counts.CountQueries``, PostgreSQL dialect), and the chain's own views.

The chain views compare stores on their visitors: the crossings of each store's entrance lines (the
catalogue's ``entrances``; every line of a store that names none), over each store's own local day.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import psycopg

from footfall.central.db import Pool, StoreInfo, get_store, list_stores
from footfall.edge.counts import CountQueries, Dialect, Run

POSTGRES = Dialect(
    events="crossings",
    scope=" AND store = :store",
    floor="FLOOR({})",
    lines="SELECT camera, line FROM line_versions WHERE store = :store",
)
# a rollup row c of a store s that is about its visitors: its entrance lines, or every line if it names none
_AT_ENTRANCES = "(cardinality(s.entrances) = 0 OR c.camera || '/' || c.line = ANY(s.entrances))"
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class CentralReader(CountQueries):
    """One store's crossings in the central store."""

    dialect = POSTGRES

    def __init__(self, dsn: str, store: str) -> None:
        self.dsn = dsn
        self.store = store

    def _scope(self) -> dict[str, Any]:
        return {"store": self.store}

    def exists(self) -> bool:
        with Pool.of(self.dsn).connection() as con, con.transaction():
            return get_store(con, self.store) is not None

    @contextmanager
    def _query(self) -> Iterator[Run]:
        # whole seconds as integers: a float8 parameter against the rollup's bigint bucket would cast the
        # column, and PostgreSQL could no longer range-scan the index by it
        def run(sql: str, params: dict[str, Any]) -> list[tuple]:
            args = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in params.items()}
            return con.execute(_PARAM.sub(r"%(\1)s", sql), args).fetchall()

        with Pool.of(self.dsn).connection() as con, con.transaction():
            yield run


def day_window(info: StoreInfo, d: date, days: int = 1) -> tuple[float, float]:
    """``days`` local days of a store from ``d``, as epoch seconds."""
    t0 = datetime.combine(d, time(0), info.tz).timestamp()
    return t0, datetime.combine(d + timedelta(days=days), time(0), info.tz).timestamp()


@dataclass(frozen=True)
class StoreDay:
    store: str
    region: str
    visitors_in: int
    visitors_out: int
    last_week_in: int


class Chain:
    """The chain page's numbers over the central store."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def stores(self) -> list[StoreInfo]:
        with Pool.of(self.dsn).connection() as con, con.transaction():
            return list_stores(con)

    def _visitors(
        self, con: psycopg.Connection, stores: Sequence[StoreInfo], start: date, days: int, hourly: bool
    ) -> list[tuple]:
        """(store, hour of day or 0, direction, crossings) at each store's entrances over its local days.

        Stores whose local day starts on a UTC hour (all but a few zones) are read from the hourly rollup,
        the others from the quarter-hours; the whole chain's window also bounds the scan by constants, so
        one day of the chain is one range of the rollup's primary key."""
        windows = {s.store: tuple(int(t) for t in day_window(s, start, days)) for s in stores}
        out: list[tuple] = []
        for table, whole in (("counts_1h", True), ("counts_15m", False)):
            part = [s.store for s in stores if (windows[s.store][0] % 3600 == 0) == whole]
            if not part:
                continue
            t0 = [windows[s][0] for s in part]
            t1 = [windows[s][1] for s in part]
            hour = "(((c.bucket - w.t0) %% 86400) / 3600)::int" if hourly else "0"
            out += con.execute(
                f"SELECT w.store, {hour}, c.direction, sum(c.n)::bigint "  # table: one of two names of ours
                "FROM unnest(%(stores)s::text[], %(t0)s::bigint[], %(t1)s::bigint[]) AS w(store, t0, t1) "
                f"JOIN {table} c ON c.store = w.store AND c.bucket >= w.t0 AND c.bucket < w.t1 "
                "JOIN stores s ON s.store = w.store "
                f"WHERE c.bucket >= %(lo)s AND c.bucket < %(hi)s AND c.direction <> 'uturn' AND {_AT_ENTRANCES} "
                "GROUP BY 1, 2, 3",
                {"stores": part, "t0": t0, "t1": t1, "lo": min(t0), "hi": max(t1)},
            ).fetchall()
        return out

    @staticmethod
    def _day_totals(con: psycopg.Connection, start: date, days: int) -> list[tuple]:
        """(store, 0, direction, crossings) at each store's entrances over its local days, from the daily
        rollup (each store's days are its own local calendar days)."""
        return con.execute(
            "SELECT c.store, 0, c.direction, sum(c.n)::bigint FROM counts_1d c JOIN stores s ON s.store = c.store "
            f"WHERE c.day >= %s AND c.day < %s AND c.direction <> 'uturn' AND {_AT_ENTRANCES} "
            "GROUP BY 1, 2, 3",
            (start, start + timedelta(days=days)),
        ).fetchall()

    def overview(self, start: date, days: int = 1) -> dict[str, Any]:
        """Stores ranked by visitors over ``days`` local days from ``start``; each against its own week
        before and the chain's median store; in/out and occupancy by region and hour of day."""
        with Pool.of(self.dsn).connection() as con, con.transaction():
            stores = list_stores(con)
            now = self._visitors(con, stores, start, days, hourly=True)
            before = self._day_totals(con, start - timedelta(days=7), days)
        by_store: dict[str, dict[str, int]] = {s.store: {"in": 0, "out": 0} for s in stores}
        hourly: dict[tuple[str, str], list[int]] = {}
        region = {s.store: s.region or "(no region)" for s in stores}
        per_store_hour: dict[str, list[int]] = {}
        for store, hour, direction, n in now:
            by_store[store][direction] += int(n)
            hourly.setdefault((region[store], direction), [0] * 24)[hour] += int(n)
            delta = per_store_hour.setdefault(store, [0] * 24)
            delta[hour] += int(n) if direction == "in" else -int(n)
        last_week = {s.store: 0 for s in stores}
        for store, _, direction, n in before:
            if direction == "in":
                last_week[store] += int(n)
        median = statistics.median([v["in"] for v in by_store.values()]) if by_store else 0
        ranked = sorted(stores, key=lambda s: (-by_store[s.store]["in"], s.store))
        occupancy: dict[str, list[int]] = {}
        for store, delta in per_store_hour.items():  # inside at each hour's end, never below zero per store
            level, curve = 0, []
            for d in delta:
                level = max(0, level + d)
                curve.append(level)
            occ = occupancy.setdefault(region[store], [0] * 24)
            for h, v in enumerate(curve):
                occ[h] += v
        return {
            "start": start.isoformat(),
            "days": days,
            "chain": {
                "stores": len(stores),
                "in": sum(v["in"] for v in by_store.values()),
                "out": sum(v["out"] for v in by_store.values()),
                "median_store_in": median,
            },
            "stores": [
                {
                    "rank": k + 1,
                    "store": s.store,
                    "name": s.name,
                    "region": s.region,
                    "timezone": s.timezone,
                    "in": by_store[s.store]["in"],
                    "out": by_store[s.store]["out"],
                    "last_week_in": last_week[s.store],
                    "vs_last_week": _ratio(by_store[s.store]["in"], last_week[s.store]),
                    "vs_chain_median": _ratio(by_store[s.store]["in"], median),
                    "entrances": list(s.entrances) or "every line",
                }
                for k, s in enumerate(ranked)
            ],
            "regions": {
                name: {
                    "in": hourly.get((name, "in"), [0] * 24),
                    "out": hourly.get((name, "out"), [0] * 24),
                    # inside at each hour's end of the one day (over several days it would mean nothing)
                    "occupancy": occupancy.get(name, [0] * 24) if days == 1 else None,
                }
                for name in sorted(set(region.values()))
            },
        }


def _ratio(a: float, b: float) -> float | None:
    return None if not b else round(a / b - 1, 4)
