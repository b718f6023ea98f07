"""The store dashboard: charts page, live page, and the JSON/CSV API behind them (FastAPI).

Reads the count database through its read API (``footfall.edge.counts``). With the device's config
it also knows the cameras and their lines, shows the edge's annotated live view (or a still from the
camera when the edge does not run) and saves lines drawn on the live page back into that config.
With only a store file (a central copy) it serves the charts and the API.

Access: when a token is set every page and API call needs it (``Authorization: Bearer TOKEN``, or
the sign-in page's cookie); ``footfall serve`` refuses to bind beyond loopback without one.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from footfall.common.config import ConfigError, key_path
from footfall.dashboard.context import Context, Settings, UnknownStore
from footfall.dashboard.queries import QueryError
from footfall.dashboard.routes import access, cameras, counts, pages

STATIC = Path(__file__).parent / "static"

__all__ = ["STATIC", "Settings", "create_app"]


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="footfall dashboard", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None)
    ctx = Context.of(settings)
    access.install(app, ctx)

    @app.exception_handler(QueryError)
    async def bad_query(request: Request, exc: QueryError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(UnknownStore)
    async def unknown_store(request: Request, exc: UnknownStore) -> JSONResponse:
        return JSONResponse({"error": str(exc.args[0])}, status_code=404)

    @app.exception_handler(FileNotFoundError)
    async def no_store(request: Request, exc: FileNotFoundError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # one line per problem, without echoing the input (it may be NaN, which JSON cannot carry)
        problems = [f"{key_path(tuple(e['loc'][1:]))}: {e['msg']}" for e in exc.errors()]
        return JSONResponse({"error": "the request is not valid", "problems": problems}, status_code=422)

    @app.exception_handler(ConfigError)
    async def bad_config(request: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse({"error": "the config is not valid", "problems": exc.problems}, status_code=422)

    app.include_router(access.router(ctx, STATIC))
    app.include_router(pages.router(ctx, STATIC))
    app.include_router(counts.router(ctx))
    app.include_router(cameras.router(ctx))
    return app
