"""``footfall central serve``: the ingest endpoint the devices ship to, and its ``/metrics``.

Each request is one batch (``footfall.common.chain``) authenticated by the device's own token; the answer
is the ack the device may forget by. Failures and what the device sees: an unknown or revoked token is a
401, a device claiming another's camera a 409, a malformed batch a 422 (all: the device keeps the rows
and says why in its log); the database down or restarting is a 503 (the device retries next round; the
transaction that was cut left nothing).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from footfall.central.db import Pool, require_schema, status
from footfall.central.ingest import Refused, ingest
from footfall.common.chain import INGEST_PATH, Batch


class Metrics:
    def __init__(self, pool: Pool) -> None:
        self.registry = CollectorRegistry()
        self.rows = Counter("footfall_central_ingest_rows", "Crossings received", ["result"], registry=self.registry)
        self.rejects = Counter("footfall_central_ingest_rejects", "Batches refused", ["status"], registry=self.registry)
        self.seconds = Histogram("footfall_central_ingest_seconds", "Time per batch", registry=self.registry)
        self.up = Gauge(
            "footfall_central_database_up", "1 when the last request reached the database", registry=self.registry
        )
        self.registry.register(_Lag(pool))


class _Lag:
    """Per device, at scrape time: seconds since its last request and since its newest crossing."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        seen = GaugeMetricFamily(
            "footfall_central_device_last_seen_age_seconds",
            "Since the device's last request",
            labels=["store", "device"],
        )
        lag = GaugeMetricFamily(
            "footfall_central_device_crossing_lag_seconds",
            "Since the newest crossing received",
            labels=["store", "device"],
        )
        try:
            with self.pool.connection() as con:
                rows = status(con)
                con.rollback()
        except Exception:  # the database is down: the up gauge says so; no lag to report
            rows = []
        now = time.time()
        for r in rows:
            if r.last_seen is not None:
                seen.add_metric([r.store, r.device], now - r.last_seen)
            if r.last_crossing is not None:
                lag.add_metric([r.store, r.device], now - r.last_crossing)
        yield seen
        yield lag


def create_app(dsn: str) -> FastAPI:
    app = FastAPI(title="footfall central", docs_url=None, redoc_url=None, openapi_url=None)
    pool = Pool.of(dsn)
    metrics = Metrics(pool)

    @app.exception_handler(RequestValidationError)
    async def bad_batch(request: Request, exc: RequestValidationError) -> JSONResponse:
        metrics.rejects.labels("422").inc()
        problems = [f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors()][:20]
        return JSONResponse({"error": "the batch is not valid: " + "; ".join(problems)}, status_code=422)

    @app.post(INGEST_PATH)
    def ingest_batch(batch: Batch, request: Request) -> Any:
        token = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        t0 = time.perf_counter()
        try:
            with pool.connection() as con:
                ack = ingest(con, token, batch)
        except Refused as exc:
            metrics.rejects.labels(str(exc.status)).inc()
            _record_reject(pool, batch.device, str(exc))
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except (psycopg.OperationalError, psycopg.errors.AdminShutdown, OSError) as exc:
            metrics.up.set(0)
            metrics.rejects.labels("503").inc()
            return JSONResponse(
                {"error": f"the central database is not available ({type(exc).__name__}); retry"}, status_code=503
            )
        metrics.up.set(1)
        metrics.seconds.observe(time.perf_counter() - t0)
        metrics.rows.labels("added").inc(ack.added)
        metrics.rows.labels("duplicate").inc(ack.duplicates)
        return ack.model_dump()

    @app.get("/health")
    def health() -> Any:
        try:
            with pool.connection() as con:
                require_schema(con)
                con.rollback()
        except Exception as exc:
            return JSONResponse({"status": "down", "error": str(exc)}, status_code=503)
        return {"status": "ok"}

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type="text/plain; version=0.0.4")

    return app


def _record_reject(pool: Pool, device: str, reason: str) -> None:
    try:
        with pool.connection() as con:
            con.execute("INSERT INTO ingest_rejects (device, reason) VALUES (%s, %s)", (device, reason[:1000]))
            con.commit()
    except psycopg.Error:
        pass
