"""The store dashboard: charts page, live page, and the JSON/CSV API behind them (FastAPI).

Reads the edge's count store read-only. With the device's config it also knows the cameras and
their lines, shows the edge's annotated live view (or a still from the camera when the edge does not
run) and saves lines drawn on the live page back into that config. With only a store file (a central
copy) it serves the charts and the API.

Access: when a token is set every page and API call needs it (``Authorization: Bearer TOKEN``, or
the sign-in page's cookie); ``footfall serve`` refuses to bind beyond loopback without one.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import cv2
import httpx
from fastapi import Body, FastAPI, Form, Query, Request
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from footfall.common.auth import token_ok
from footfall.common.config import ConfigError
from footfall.dashboard.lines import StaleConfig, config_version, save_lines
from footfall.dashboard.queries import DAY, GROUPS, Filter, QueryError, Store
from footfall.edge.config import EdgeConfig, load_config

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
COOKIE = "footfall_session"


@dataclass
class Settings:
    db: Path
    tz: ZoneInfo
    token: str | None = None
    config_path: Path | None = None  # the device config: cameras, lines, live view, line editing
    interval_s: int = 900
    opening_hour: int = 0
    entrances: tuple[str, ...] = ()
    max_dwell_s: float = 12 * 3600
    edge_url: str | None = None  # http://host:port of the edge's live view

    @classmethod
    def from_config(cls, path: Path, cfg: EdgeConfig, token: str | None, tz: ZoneInfo) -> Settings:
        d = cfg.dashboard
        edge_host = "127.0.0.1" if cfg.metrics.host in ("0.0.0.0", "::", "") else cfg.metrics.host
        return cls(
            db=cfg.storage.db,
            tz=tz,
            token=token,
            config_path=path,
            interval_s=d.interval_minutes * 60,
            opening_hour=d.opening_hour,
            entrances=tuple(d.entrances),
            max_dwell_s=d.max_dwell_h * 3600,
            edge_url=f"http://{edge_host}:{cfg.metrics.port}" if cfg.metrics.port and cfg.metrics.live else None,
        )


def _session_value(token: str) -> str:
    """What the sign-in cookie holds: derived from the token, not the token itself."""
    return hmac.new(token.encode(), b"footfall-dashboard-session", hashlib.sha256).hexdigest()


def _day(value: str | None, name: str, default: Callable[[], date]) -> date:
    if not value:
        return default()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{name}={value!r}: write the day as YYYY-MM-DD") from None


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v for item in values or [] for v in item.split(",") if v)


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="footfall dashboard", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None)
    store = Store(settings.db, settings.tz, settings.opening_hour, list(settings.entrances), settings.max_dwell_s)

    def config() -> EdgeConfig | None:
        return load_config(settings.config_path) if settings.config_path else None

    def today() -> date:
        return datetime.now(settings.tz).date()

    def default_day() -> date:
        """Today if it has crossings, else the last day that has (a fresh page shows data, not zeros)."""
        span = store.data_range() if settings.db.exists() else None
        return today() if span is None or span[1] >= today().isoformat() else date.fromisoformat(span[1])

    # -- access -----------------------------------------------------------------------------------

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Response:
        token = settings.token
        path = request.url.path
        if token is None or path in ("/login", "/api/health", "/favicon.ico") or path.startswith("/static/"):
            return await call_next(request)
        cookie = request.cookies.get(COOKIE, "")
        if token_ok(request.headers.get("authorization"), token) or hmac.compare_digest(
            cookie.encode(), _session_value(token).encode()
        ):
            return await call_next(request)
        if path.startswith("/api/"):
            return JSONResponse({"error": "a token is required: 'Authorization: Bearer TOKEN'"}, status_code=401)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(QueryError)
    async def bad_query(request: Request, exc: QueryError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(FileNotFoundError)
    async def no_store(request: Request, exc: FileNotFoundError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    @app.exception_handler(ConfigError)
    async def bad_config(request: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse({"error": "the config is not valid", "problems": exc.problems}, status_code=422)

    @app.get("/login", include_in_schema=False)
    def login_page() -> FileResponse:
        return FileResponse(STATIC / "login.html")

    @app.post("/login", include_in_schema=False)
    def login(token: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
        if settings.token is None or not hmac.compare_digest(token.encode(), settings.token.encode()):
            return RedirectResponse("/login?failed=1", status_code=303)
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        resp = RedirectResponse(target, status_code=303)
        resp.set_cookie(COOKIE, _session_value(settings.token), httponly=True, samesite="strict", max_age=30 * DAY)
        return resp

    # -- pages ------------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def charts_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/live/{camera}", include_in_schema=False)
    def live_page(camera: str) -> Response:
        cfg = config()
        if cfg is None or camera not in {c.name for c in cfg.cameras}:
            return PlainTextResponse(f"no camera {camera!r} in the device config", status_code=404)
        return FileResponse(STATIC / "live.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        path = STATIC / name
        if "/" in name or not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path)

    # -- API --------------------------------------------------------------------------------------

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "store": str(settings.db), "store_exists": settings.db.exists()}

    @app.get("/api/meta")
    def meta() -> dict[str, Any]:
        """Cameras, lines, classes, the days that have data, defaults of the pages."""
        cfg = config()
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
            "today": today().isoformat(),
            "default_day": default_day().isoformat(),
            "data_range": span,
            "interval_s": settings.interval_s,
            "cameras": cams,
            "classes": list(cfg.model.classes) if cfg is not None else None,
            "config_version": config_version(settings.config_path) if settings.config_path else None,
            "entrances": list(settings.entrances) or "every line",
        }

    def _flt(camera: list[str] | None, line: list[str] | None, cls: list[str] | None) -> Filter:
        return Filter(_split(camera), _split(line), _split(cls))

    @app.get("/api/counts")
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
        d0 = _day(start, "start", default_day)
        d1 = _day(end, "end", lambda: d0)
        groups = tuple(g for g in group_by.split(",") if g)
        return store.counts(d0, d1, interval or settings.interval_s, groups, _flt(camera, line, cls))

    @app.get("/api/counts.csv")
    def counts_csv(
        start: str | None = None,
        end: str | None = None,
        interval: int | None = None,
        camera: Annotated[list[str] | None, Query()] = None,
        line: Annotated[list[str] | None, Query()] = None,
        cls: Annotated[list[str] | None, Query(alias="class")] = None,
    ) -> Response:
        d0 = _day(start, "start", default_day)
        d1 = _day(end, "end", lambda: d0)
        buf = io.StringIO()
        csv.writer(buf).writerows(store.csv_rows(d0, d1, interval or settings.interval_s, _flt(camera, line, cls)))
        name = f"footfall_{d0}_{d1}.csv"
        return Response(
            buf.getvalue(), media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    @app.get("/api/summary")
    def summary(
        day: str | None = None,
        interval: int | None = None,
        camera: Annotated[list[str] | None, Query()] = None,
        line: Annotated[list[str] | None, Query()] = None,
    ) -> dict[str, Any]:
        """One day against the same weekday a week before: totals by class, the 'in' curve of both."""
        d = _day(day, "day", default_day)
        return store.summary(d, interval or settings.interval_s, _flt(camera, line, None))

    @app.get("/api/occupancy")
    def occupancy(day: str | None = None, interval: int | None = None) -> dict[str, Any]:
        return store.occupancy(_day(day, "day", default_day), interval or settings.interval_s, now=time.time())

    @app.get("/api/dwell")
    def dwell(start: str | None = None, end: str | None = None) -> dict[str, Any]:
        d0 = _day(start, "start", default_day)
        return store.dwell(d0, _day(end, "end", lambda: d0))

    @app.put("/api/cameras/{camera}/lines")
    def put_lines(
        camera: str,
        lines: Annotated[list[dict[str, Any]], Body(embed=True)],
        config_version_: Annotated[str | None, Body(alias="config_version", embed=True)] = None,
    ) -> JSONResponse:
        """Replace a camera's counting lines in the device config (validated; atomic; the next run uses them)."""
        if settings.config_path is None:
            return JSONResponse({"error": "started without --config: no device config to save lines into"}, 409)
        try:
            cfg = save_lines(settings.config_path, camera, lines, config_version_)
        except KeyError:
            return JSONResponse({"error": f"no camera {camera!r} in {settings.config_path}"}, 404)
        except StaleConfig as exc:
            return JSONResponse({"error": str(exc)}, 409)
        cam = next(c for c in cfg.cameras if c.name == camera)
        log.info("lines of camera %s saved to %s: %s", camera, settings.config_path, [ln.name for ln in cam.lines])
        return JSONResponse(
            {
                "saved": [ln.model_dump(mode="json") for ln in cam.lines],
                "config_version": config_version(settings.config_path),
                "note": "The edge uses the new lines from its next start (restart the footfall service)",
            }
        )

    @app.get("/api/cameras/{camera}/snapshot.jpg")
    def snapshot(camera: str) -> Response:
        """One frame straight from the camera (to draw lines while the edge is not running); kept in memory only."""
        cfg = config()
        cam = next((c for c in cfg.cameras if c.name == camera), None) if cfg else None
        if cam is None:
            return JSONResponse({"error": f"no camera {camera!r} in the device config"}, 404)
        jpg = grab_frame(cam.source)
        if jpg is None:
            return JSONResponse({"error": f"camera {camera!r} ({cam.source}) gave no frame"}, 503)
        return Response(jpg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/api/cameras/{camera}/live.mjpg")
    async def live(camera: str, request: Request) -> Response:
        """The edge's annotated live view, relayed (boxes, ids, classes, lines, running counts)."""
        if settings.edge_url is None:
            return JSONResponse({"error": "the live view is off (metrics.port 0 or metrics.live false)"}, 404)
        url = f"{settings.edge_url}/live/{camera}.mjpg"
        headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
        client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=30.0))
        try:
            upstream = await client.send(client.build_request("GET", url, headers=headers), stream=True)
        except httpx.HTTPError as exc:
            await client.aclose()
            return JSONResponse({"error": f"the edge service is not reachable at {settings.edge_url} ({exc})"}, 503)
        if upstream.status_code != 200:
            body = (await upstream.aread()).decode(errors="replace")[:300]
            await upstream.aclose()
            await client.aclose()
            return JSONResponse({"error": f"edge answered {upstream.status_code}: {body}"}, 502)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_raw():
                    if await request.is_disconnected():
                        break
                    yield chunk
            except (httpx.HTTPError, asyncio.CancelledError):
                pass
            finally:
                await upstream.aclose()
                await client.aclose()

        return StreamingResponse(
            relay(), media_type=upstream.headers.get("content-type"), headers={"Cache-Control": "no-store"}
        )

    return app


def grab_frame(source: str, timeout_s: float = 10.0) -> bytes | None:
    """The first frame a source gives, as JPEG bytes (never written anywhere)."""
    cap = cv2.VideoCapture(int(source) if source.isdigit() else source)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ok, frame = cap.read()
            if ok:
                return bytes(cv2.imencode(".jpg", frame)[1].tobytes())
            if not cap.isOpened():
                return None
        return None
    finally:
        cap.release()


__all__ = ["GROUPS", "Settings", "create_app", "grab_frame"]
