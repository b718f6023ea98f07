"""The store owner's numbers: counts per interval (JSON, CSV), the day against last week, occupancy, dwell."""

from __future__ import annotations

import csv
import io
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from footfall.dashboard.context import Context, parse_day
from footfall.dashboard.lines import config_version
from footfall.edge.counts import Filter


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v for item in values or [] for v in item.split(",") if v)


def _flt(camera: list[str] | None, line: list[str] | None, cls: list[str] | None) -> Filter:
    return Filter(_split(camera), _split(line), _split(cls))


def router(ctx: Context) -> APIRouter:
    r = APIRouter(prefix="/api")
    settings, store = ctx.settings, ctx.store

    @r.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "store_exists": settings.db.exists()}  # open to all: no paths

    @r.get("/meta")
    def meta() -> dict[str, Any]:
        """Cameras, lines, classes, the days that have data, defaults of the pages."""
        cfg = ctx.config()
        known = store.cameras() if settings.db.exists() else {}
        cams: dict[str, Any] = {}
        if cfg is not None:
            for c in cfg.cameras:
                cams[c.name] = {"lines": [ln.model_dump(mode="json") for ln in c.lines], "live": True}
        for cam, lines in known.items():
            entry = cams.setdefault(cam, {"lines": [], "live": False})
            names = {ln["name"] for ln in entry["lines"]}
            entry["lines"] += [{"name": ln} for ln in lines if ln not in names]
        span = store.data_range() if settings.db.exists() else None
        return {
            "timezone": str(settings.tz),
            "today": ctx.today().isoformat(),
            "default_day": ctx.default_day().isoformat(),
            "data_range": span,
            "interval_s": settings.interval_s,
            "cameras": cams,
            "classes": list(cfg.model.classes) if cfg is not None else None,
            "not_counted": ctx.not_counted(),
            "config_version": config_version(settings.config_path) if settings.config_path else None,
            "entrances": list(settings.entrances) or "every line",
        }

    @r.get("/counts")
    def counts(
        start: str | None = None,
        end: str | None = None,
        interval: int | None = None,
        group_by: str = "class",
        camera: Annotated[list[str] | None, Query()] = None,
        line: Annotated[list[str] | None, Query()] = None,
        cls: Annotated[list[str] | None, Query(alias="class")] = None,
    ) -> dict[str, Any]:
        """Crossings per interval between two local days (inclusive), one series per group × direction.

        ``group_by``: comma-separated subset of camera, line, class (empty = totals only)."""
        d0 = parse_day(start, "start", ctx.default_day)
        d1 = parse_day(end, "end", lambda: d0)
        groups = tuple(g for g in group_by.split(",") if g)
        return store.counts(d0, d1, interval or settings.interval_s, groups, _flt(camera, line, cls))

    @r.get("/counts.csv")
    def counts_csv(
        start: str | None = None,
        end: str | None = None,
        interval: int | None = None,
        camera: Annotated[list[str] | None, Query()] = None,
        line: Annotated[list[str] | None, Query()] = None,
        cls: Annotated[list[str] | None, Query(alias="class")] = None,
    ) -> Response:
        d0 = parse_day(start, "start", ctx.default_day)
        d1 = parse_day(end, "end", lambda: d0)
        buf = io.StringIO()
        csv.writer(buf).writerows(store.csv_rows(d0, d1, interval or settings.interval_s, _flt(camera, line, cls)))
        name = f"footfall_{d0}_{d1}.csv"
        return Response(
            buf.getvalue(), media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    @r.get("/summary")
    def summary(
        day: str | None = None,
        interval: int | None = None,
        camera: Annotated[list[str] | None, Query()] = None,
        line: Annotated[list[str] | None, Query()] = None,
    ) -> dict[str, Any]:
        """One day against the same weekday a week before: totals by class, the 'in' curve of both."""
        d = parse_day(day, "day", ctx.default_day)
        return store.summary(d, interval or settings.interval_s, _flt(camera, line, None))

    @r.get("/occupancy")
    def occupancy(day: str | None = None, interval: int | None = None) -> dict[str, Any]:
        d = parse_day(day, "day", ctx.default_day)
        return store.occupancy(d, interval or settings.interval_s, now=time.time())

    @r.get("/dwell")
    def dwell(start: str | None = None, end: str | None = None) -> dict[str, Any]:
        d0 = parse_day(start, "start", ctx.default_day)
        return store.dwell(d0, parse_day(end, "end", lambda: d0))

    return r
