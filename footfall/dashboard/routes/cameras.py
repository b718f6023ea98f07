"""A camera's counting lines (saved into the device config), a still from it, and the edge's live view."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import cv2
import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from footfall.common.lines import LinesUpdate
from footfall.common.redact import redact_url
from footfall.dashboard.context import Context
from footfall.dashboard.lines import StaleConfig, config_version, save_lines
from footfall.edge.capture import traffic_of
from footfall.edge.config import CameraConfig, EdgeConfig
from footfall.edge.sources import open_capture

log = logging.getLogger(__name__)


def advice(cfg: EdgeConfig, cam: CameraConfig) -> dict[str, dict[str, Any]]:
    """Placement advice for each of ``cam``'s lines from its recent tracks (the capture spool's track
    files; empty ``steps`` before the camera ran with capture on)."""
    return {
        name: {
            "walk_angle_deg": None if t.walk_angle_deg is None else round(t.walk_angle_deg, 1),
            "person_height_px": None if t.person_height_px is None else round(t.person_height_px, 1),
            "steps": t.steps,
            "expected_accuracy": t.expected_accuracy,
            "warnings": t.warnings(name),
        }
        for name, t in traffic_of(cfg.capture.dir, cam.name, cam.lines).items()
    }


def router(ctx: Context) -> APIRouter:
    r = APIRouter(prefix="/api")

    @r.put("/cameras/{camera}/lines")
    def put_lines(camera: str, update: LinesUpdate) -> JSONResponse:
        """Replace a camera's counting lines in the device config (validated; atomic; the next run uses them)."""
        if ctx.settings.config_path is None:
            return JSONResponse({"error": "started without --config: no device config to save lines into"}, 409)
        lines = [line.model_dump() for line in update.lines]
        try:
            cfg = save_lines(ctx.settings.config_path, camera, lines, update.config_version, update.frame_size)
        except KeyError:
            return JSONResponse({"error": f"no camera {camera!r} in {ctx.settings.config_path}"}, 404)
        except StaleConfig as exc:
            return JSONResponse({"error": str(exc)}, 409)
        cam = next(c for c in cfg.cameras if c.name == camera)
        log.info("lines of camera %s saved to %s: %s", camera, ctx.settings.config_path, [ln.name for ln in cam.lines])
        return JSONResponse(
            {
                "saved": [ln.model_dump(mode="json") for ln in cam.lines],
                "config_version": config_version(ctx.settings.config_path),
                "note": "The edge uses the new lines from its next start (restart the footfall service)",
                "advice": advice(cfg, cam),
            }
        )

    @r.get("/cameras/{camera}/advice")
    def get_advice(camera: str) -> JSONResponse:
        """Per saved line: where people walk near it (the camera's recent tracks) and what that means."""
        cfg = ctx.config()
        cam = next((c for c in cfg.cameras if c.name == camera), None) if cfg else None
        if cfg is None or cam is None:
            return JSONResponse({"error": f"no camera {camera!r} in the device config"}, 404)
        return JSONResponse({"advice": advice(cfg, cam)})

    @r.get("/cameras/{camera}/snapshot.jpg")
    def snapshot(camera: str) -> Response:
        """One frame straight from the camera (to draw lines while the edge is not running); kept in memory only."""
        cfg = ctx.config()
        cam = next((c for c in cfg.cameras if c.name == camera), None) if cfg else None
        if cam is None:
            return JSONResponse({"error": f"no camera {camera!r} in the device config"}, 404)
        if not _SNAPSHOT.acquire(timeout=1.0):
            return JSONResponse({"error": "another snapshot is being taken; retry in a few seconds"}, 429)
        try:
            jpg = grab_frame(cam.source)
        finally:
            _SNAPSHOT.release()
        if jpg is None:
            return JSONResponse({"error": f"camera {camera!r} ({redact_url(cam.source)}) gave no frame"}, 503)
        return Response(jpg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @r.get("/cameras/{camera}/live.mjpg")
    async def live(camera: str, request: Request) -> Response:
        """The edge's annotated live view, relayed (boxes, ids, classes, lines, running counts)."""
        if ctx.settings.edge_url is None:
            return JSONResponse({"error": "the live view is off (metrics.port 0 or metrics.live false)"}, 404)
        url = f"{ctx.settings.edge_url}/live/{camera}.mjpg"
        headers = {"Authorization": f"Bearer {ctx.settings.token}"} if ctx.settings.token else {}
        client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=30.0))
        try:
            upstream = await client.send(client.build_request("GET", url, headers=headers), stream=True)
        except httpx.HTTPError as exc:
            await client.aclose()
            return JSONResponse({"error": f"the edge service is not reachable at {ctx.settings.edge_url} ({exc})"}, 503)
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

    return r


_SNAPSHOT = threading.Lock()  # one camera opened at a time by the dashboard: a page reload storm opens no more


def grab_frame(source: str, timeout_s: float = 10.0) -> bytes | None:
    """The first frame a source gives, as JPEG bytes (never written anywhere); opened with the edge's
    bounded timeouts."""
    cap = open_capture(source)
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
