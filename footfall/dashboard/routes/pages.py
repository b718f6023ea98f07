"""The pages: charts, live view per camera, static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

from footfall.dashboard.context import Context


def router(ctx: Context, static: Path) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/")
    def charts_page(store: str | None = None) -> Response:
        if ctx.is_chain and not store:
            return RedirectResponse("/chain", status_code=303)
        return FileResponse(static / "index.html")

    @r.get("/chain")
    def chain_page() -> Response:
        if not ctx.is_chain:
            return PlainTextResponse("this dashboard shows one store (start it with --db postgresql://…)", 404)
        return FileResponse(static / "chain.html")

    @r.get("/live/{camera}")
    def live_page(camera: str) -> Response:
        cfg = ctx.config()
        if cfg is None or camera not in {c.name for c in cfg.cameras}:
            return PlainTextResponse(f"no camera {camera!r} in the device config", status_code=404)
        return FileResponse(static / "live.html")

    @r.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @r.get("/static/{name}")
    def static_file(name: str) -> Response:
        path = static / name
        if "/" in name or not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path)

    return r
