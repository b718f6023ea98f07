"""The store owner's numbers: counts per interval (JSON, CSV), the day against last week, occupancy, dwell."""

from __future__ import annotations

import csv
import io
import time
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from footfall.dashboard.context import Context, parse_day
from footfall.dashboard.lines import config_version
from footfall.dashboard.queries import QueryError
from footfall.edge.counts import Filter


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v for item in values or [] for v in item.split(",") if v)


def _flt(camera: list[str] | None, line: list[str] | None, cls: list[str] | None) -> Filter:
    return Filter(_split(camera), _split(line), _split(cls))


StoreId = Annotated[str | None, Query(description="The store, when the dashboard shows a chain.")]
Lines = Annotated[list[str] | None, Query()]


def router(ctx: Context) -> APIRouter:
    r = APIRouter(prefix="/api")
    settings = ctx.settings

    @r.get("/health")
    def health() -> dict[str, Any]:
        if ctx.is_chain:
            return {"status": "ok", "chain": True}
        return {"status": "ok", "store_exists": ctx.store().exists()}  # open to all: no paths

    @r.get("/meta")
    def meta(store: StoreId = None) -> dict[str, Any]:
        """Cameras, lines, classes, the days that have data, defaults of the pages."""
        st = ctx.store(store)
        cfg = ctx.config()
        exists = st.exists()
        known = st.cameras() if exists else {}
        cams: dict[str, Any] = {}
        if cfg is not None:
            for c in cfg.cameras:
                cams[c.name] = {"lines": [ln.model_dump(mode="json") for ln in c.lines], "live": True}
        for cam, lines in known.items():
            entry = cams.setdefault(cam, {"lines": [], "live": False})
            names = {ln["name"] for ln in entry["lines"]}
            entry["lines"] += [{"name": ln} for ln in lines if ln not in names]
        return {
            "store": store,
            "chain": ctx.is_chain,
            "timezone": str(st.tz),
            "today": ctx.today(st).isoformat(),
            "default_day": ctx.default_day(st).isoformat(),
            "data_range": st.data_range() if exists else None,
            "interval_s": settings.interval_s,
            "cameras": cams,
            "classes": list(cfg.model.classes) if cfg is not None else None,
            "not_counted": ctx.not_counted(),
            "config_version": config_version(settings.config_path) if settings.config_path else None,
            "entrances": st.headline_lines(),
        }

    @r.get("/counts")
    def counts(
        store: StoreId = None,
        start: str | None = None,
        end: str | None = None,
        interval: int | None = None,
        group_by: str = "class",
        camera: Lines = None,
        line: Lines = None,
        cls: Annotated[list[str] | None, Query(alias="class")] = None,
        all_lines: bool = False,
    ) -> dict[str, Any]:
        """Crossings per interval between two local days (inclusive), one series per group × direction.

        ``group_by``: comma-separated subset of camera, line, class (empty = totals only). The store's
        entrance lines unless ``camera``/``line`` name lines or ``all_lines`` is set (``lines`` in the
        answer says which)."""
        st = ctx.store(store)
        d0 = parse_day(start, "start", lambda: ctx.default_day(st))
        d1 = parse_day(end, "end", lambda: d0)
        groups = tuple(g for g in group_by.split(",") if g)
        return st.counts(d0, d1, interval or settings.interval_s, groups, _flt(camera, line, cls), all_lines)

    @r.get("/counts.csv")
    def counts_csv(
        store: StoreId = None,
        start: str | None = None,
        end: str | None = None,
        interval: int | None = None,
        camera: Lines = None,
        line: Lines = None,
        cls: Annotated[list[str] | None, Query(alias="class")] = None,
        all_lines: bool = False,
    ) -> Response:
        """The same crossings as ``/api/counts`` in long format; the ``entrance`` column marks visitors."""
        st = ctx.store(store)
        d0 = parse_day(start, "start", lambda: ctx.default_day(st))
        d1 = parse_day(end, "end", lambda: d0)
        buf = io.StringIO()
        rows = st.csv_rows(d0, d1, interval or settings.interval_s, _flt(camera, line, cls), all_lines)
        csv.writer(buf).writerows(rows)
        name = f"footfall_{store + '_' if store else ''}{d0}_{d1}.csv"
        return Response(
            buf.getvalue(), media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    @r.get("/summary")
    def summary(
        store: StoreId = None,
        day: str | None = None,
        interval: int | None = None,
        camera: Lines = None,
        line: Lines = None,
    ) -> dict[str, Any]:
        """One day against the same weekday a week before: totals by class, the 'in' curve of both."""
        st = ctx.store(store)
        d = parse_day(day, "day", lambda: ctx.default_day(st))
        return st.summary(d, interval or settings.interval_s, _flt(camera, line, None))

    @r.get("/occupancy")
    def occupancy(store: StoreId = None, day: str | None = None, interval: int | None = None) -> dict[str, Any]:
        st = ctx.store(store)
        d = parse_day(day, "day", lambda: ctx.default_day(st))
        return st.occupancy(d, interval or settings.interval_s, now=time.time())

    @r.get("/dwell")
    def dwell(store: StoreId = None, start: str | None = None, end: str | None = None) -> dict[str, Any]:
        st = ctx.store(store)
        d0 = parse_day(start, "start", lambda: ctx.default_day(st))
        return st.dwell(d0, parse_day(end, "end", lambda: d0))

    @r.get("/chain")
    def chain(day: str | None = None, days: Annotated[int, Query(ge=1, le=31)] = 1) -> dict[str, Any]:
        """The chain: stores ranked by visitors over ``days`` local days from ``day``, each against its week
        before and the median store; in, out and occupancy by region and hour."""
        if settings.central is None:
            raise QueryError("this dashboard shows one store: start it with --db postgresql://… for a chain")
        from footfall.central.reader import Chain

        d = parse_day(day, "day", lambda: date.today())
        return Chain(settings.central).overview(d, days)

    return r
