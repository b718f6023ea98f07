"""``footfall edge …``: run the counter, report counts, export models."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from footfall.common.config import ConfigError
from footfall.common.lines import parse_line_arg
from footfall.edge.config import CameraConfig, EdgeConfig, load_config, validate_config
from footfall.edge.tracking import TRACKERS

log = logging.getLogger(__name__)


@click.group()
def edge() -> None:
    """On the store device: count people crossing lines, per class."""


def _quick_config(
    source: str,
    lines: tuple[str, ...],
    model: Path | None,
    tracker: str | None,
    reid: Path | None,
) -> dict[str, Any]:
    try:
        parsed = [parse_line_arg(spec) for spec in lines]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--line") from None
    cfg: dict[str, Any] = {"cameras": [{"name": "cam0", "source": source, "lines": parsed}]}
    cfg["model"] = {"path": str(model or _packaged_model())}
    cfg["tracker"] = {"name": tracker or "auto", **({"reid_weights": str(reid)} if reid else {})}
    return cfg


def _packaged_model() -> Path:
    """models/yolov5n.onnx here, else the one scripts/setup.sh exported next to the installed package."""
    local = Path("models/yolov5n.onnx")
    packaged = Path(__file__).resolve().parents[2] / "models" / "yolov5n.onnx"
    return local if local.is_file() or not packaged.is_file() else packaged


def _apply_overrides(data: dict[str, Any], **over: Any) -> dict[str, Any]:
    for dotted, value in over.items():
        if value is None:
            continue
        section, key = dotted.split(".")
        data.setdefault(section, {})[key] = value
    return data


@edge.command("run")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="YAML configuration file.")
@click.option("--validate-config", is_flag=True, help="Only validate the configuration and exit.")
@click.option("--source", help="Quick run without a config: video file, stream URL or USB index.")
@click.option("--line", "lines", multiple=True, metavar="NAME=x1,y1,x2,y2", help="Counting line (repeatable).")
@click.option("--model", type=click.Path(path_type=Path), help="Detector weights (.onnx or .pt).")
@click.option("--tracker", help=f"{', '.join(sorted(TRACKERS))} or auto.")
@click.option("--reid-weights", type=click.Path(path_type=Path), help="OSNet ReID weights for StrongSORT.")
@click.option("--uturn-window", type=float, help="Seconds within which a reversed crossing is a U-turn.")
@click.option("--db", type=click.Path(path_type=Path), help="SQLite file (overrides storage.db).")
@click.option("--summary-json", type=click.Path(path_type=Path), help="Write the run summary here.")
@click.option("--max-frames", type=click.IntRange(min=1), help="Stop each camera after N frames.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), help="Port of /metrics and /health (0 = off).")
@click.option("--fresh", is_flag=True, help="Count a file again from the start instead of resuming it.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def run_cmd(
    config_path: Path | None,
    validate_config: bool,
    source: str | None,
    lines: tuple[str, ...],
    model: Path | None,
    tracker: str | None,
    reid_weights: Path | None,
    uturn_window: float | None,
    db: Path | None,
    summary_json: Path | None,
    max_frames: int | None,
    metrics_port: int | None,
    fresh: bool,
    no_progress: bool,
) -> None:
    """Count people crossing lines on one or more cameras."""
    cfg = _load(config_path, source, lines, model, tracker, reid_weights, uturn_window, db, metrics_port)
    if validate_config:
        errors, warnings = _line_placement(cfg)
        for w in warnings:
            click.echo(f"warning: {w}", err=True)
        if errors:
            raise click.ClickException("; ".join(errors))
        click.echo(f"{config_path or 'command line'}: OK ({len(cfg.cameras)} camera(s))")
        return
    from footfall.edge.detectors import ModelFileError
    from footfall.edge.service import EdgeService, RunOptions

    try:
        _preflight(cfg)
    except (ModelFileError, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    service = EdgeService(cfg, RunOptions(max_frames=max_frames, fresh=fresh, progress=not no_progress))
    signal.signal(signal.SIGTERM, service.stop)
    signal.signal(signal.SIGINT, service.stop)
    results = service.run()
    summary = _summary(cfg, results)
    if summary_json:
        tmp = summary_json.with_name(f".{summary_json.name}.tmp")
        tmp.write_text(json.dumps(summary, indent=1))
        tmp.replace(summary_json)
    click.echo(_summary_table(summary))
    failed = [name for name, r in results.items() if r is None]
    if failed:
        raise click.ClickException(f"camera(s) {', '.join(failed)} did not finish; see the log above")


def _load(
    config_path: Path | None,
    source: str | None,
    lines: tuple[str, ...],
    model: Path | None,
    tracker: str | None,
    reid: Path | None,
    uturn_window: float | None,
    db: Path | None,
    metrics_port: int | None,
) -> EdgeConfig:
    if config_path and (source or lines):
        raise click.UsageError("give either --config or --source/--line, not both")
    if not config_path and not (source and lines):
        raise click.UsageError("give --config FILE, or --source and at least one --line NAME=x1,y1,x2,y2")
    try:
        if config_path:
            cfg = load_config(config_path)
            data = cfg.model_dump(mode="json")
            over = {
                "counting.uturn_window_s": uturn_window,
                "storage.db": str(db) if db else None,
                "metrics.port": metrics_port,
                "model.path": str(model) if model else None,
            }
            if any(v is not None for v in over.values()):
                if uturn_window is not None and uturn_window >= cfg.counting.forget_after_s:
                    over["counting.forget_after_s"] = uturn_window + 10
                cfg = validate_config(_apply_overrides(data, **over), str(config_path))
            return cfg
        data = _quick_config(source or "", lines, model, tracker, reid)
        if uturn_window is not None:
            data["counting"] = {"uturn_window_s": uturn_window, "forget_after_s": max(10.0, uturn_window + 10)}
        _apply_overrides(data, **{"storage.db": str(db) if db else None, "metrics.port": metrics_port})
        return validate_config(data, "command line")
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def _line_placement(cfg: EdgeConfig) -> tuple[list[str], list[str]]:
    """Where each camera's lines lie in its picture (video files only: a stream's size is known once
    it is opened, by the live page)."""
    import cv2

    from footfall.common.lines import placement_problems
    from footfall.edge.sources import source_kind

    errors: list[str] = []
    warnings: list[str] = []
    for cam in cfg.cameras:
        warnings += [f"cameras[{cam.name}].{m}" for m in traffic_warnings(cfg, cam)]
        if source_kind(cam.source) != "file" or not Path(cam.source).is_file():
            continue
        cap = cv2.VideoCapture(cam.source)
        size = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        cap.release()
        if min(size) <= 0:
            continue
        for line in cam.lines:
            e, w = placement_problems(line, *size)
            errors += [f"cameras[{cam.name}].{m}" for m in e]
            warnings += [f"cameras[{cam.name}].{m}" for m in w]
    return errors, warnings


def traffic_warnings(cfg: EdgeConfig, cam: CameraConfig) -> list[str]:
    """Placement warnings for ``cam``'s lines from where its recent tracks walked (the capture spool's
    track files; none before the camera has run with capture on)."""
    from footfall.edge.capture import traffic_of

    return [w for name, t in traffic_of(cfg.capture.dir, cam.name, cam.lines).items() for w in t.warnings(name)]


def _preflight(cfg: EdgeConfig) -> None:
    """Fail before starting workers on what would make every worker fail; warn about line placement."""
    from footfall.edge.detectors import create_detector

    errors, warnings = _line_placement(cfg)
    for w in warnings:
        log.warning("%s", w)
    if errors:
        raise ValueError("; ".join(errors))

    create_detector(cfg.model)
    if cfg.tracker.reid_weights is not None and not cfg.tracker.reid_weights.is_file():
        raise FileNotFoundError(f"ReID weights {cfg.tracker.reid_weights} do not exist. Fix: tracker.reid_weights")


def _summary(cfg: EdgeConfig, results: dict[str, Any]) -> dict[str, Any]:
    from footfall.edge.store import CountStore

    cameras: dict[str, Any] = {}
    with CountStore(cfg.storage.db) as store:
        for name, r in results.items():
            if r is None:
                cameras[name] = {"finished": False}
                continue
            counts = store.session_counts(r.session)
            cam_lines = next(c for c in cfg.cameras if c.name == name).lines
            lines = {}
            for line in cam_lines:
                per = counts.get(line.name, {})
                classes = sorted(set(per.get("in", {})) | set(per.get("out", {})))
                lines[line.name] = {
                    "in": sum(per.get("in", {}).values()),
                    "out": sum(per.get("out", {}).values()),
                    "uturns": sum(per.get("uturn", {}).values()),
                    "by_class": {
                        c: {"in": per.get("in", {}).get(c, 0), "out": per.get("out", {}).get(c, 0)} for c in classes
                    },
                }
            cameras[name] = {
                "session": r.session,
                "frames": r.frames,
                "seconds": round(r.seconds, 3),
                "resumed_from_frame": r.resumed_from,
                "finished": r.finished,
                "lines": lines,
            }
    done = [c for c in cameras.values() if "frames" in c]
    frames = sum(c["frames"] for c in done)
    seconds = max((c["seconds"] for c in done), default=0.0)
    single = len(cameras) == 1
    lines_out = {
        (ln if single else f"{cam}/{ln}"): v for cam, c in cameras.items() for ln, v in c.get("lines", {}).items()
    }
    return {
        "frames": frames,
        "seconds": round(seconds, 3),
        "fps": round(frames / seconds, 2) if seconds else 0.0,
        "lines": lines_out,
        "cameras": cameras,
    }


def _summary_table(summary: dict[str, Any]) -> str:
    rows = [f"{'line':<20} {'in':>6} {'out':>6} {'uturns':>7}  by class"]
    for name, v in summary["lines"].items():
        by = ", ".join(f"{c} {x['in']}/{x['out']}" for c, x in v["by_class"].items())
        rows.append(f"{name:<20} {v['in']:>6} {v['out']:>6} {v['uturns']:>7}  {by}")
    rows.append(f"{summary['frames']} frames in {summary['seconds']:.1f}s ({summary['fps']:.1f} fps)")
    return "\n".join(rows)


def _parse_time(value: str | None, default: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """``now``, ``today`` (local midnight), ``-2h`` / ``-7d`` or ISO 8601; a time without offset is in ``tz``."""
    if value is None:
        return default
    now = dt.datetime.now(tz)
    if value in ("now", "today"):
        return now if value == "now" else dt.datetime.combine(now.date(), dt.time(), tz)
    m = re.fullmatch(r"-(\d+)([mhd])", value)
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        return now - dt.timedelta(**{unit: int(m.group(1))})
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: use ISO 8601 (2026-11-25T09:00), today, now, or -2h / -7d") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


@edge.command("report")
@click.option("--db", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True)
@click.option("--since", help="Start (ISO 8601, today, -7d). Default: 24 hours ago.")
@click.option("--until", help="End, exclusive (ISO 8601, now). Default: now.")
@click.option("--interval", default="15m", show_default=True, help="Bucket size: 15m, 1h, 1d.")
@click.option("--camera", "cameras", multiple=True, help="Only these cameras.")
@click.option("--line", "lines", multiple=True, help="Only these lines.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--timezone", "tz_name", help="IANA zone the intervals and times are in (default: the machine's).")
@click.option("--utc", is_flag=True, help="Same as --timezone UTC.")
def report_cmd(
    db: Path,
    since: str | None,
    until: str | None,
    interval: str,
    cameras: tuple[str, ...],
    lines: tuple[str, ...],
    fmt: str,
    tz_name: str | None,
    utc: bool,
) -> None:
    """Counts per interval, camera, line, class and direction.

    Intervals start at local midnight of the chosen zone, so hours are on the hour and --interval 1d
    gives calendar days there.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from footfall.common.localtime import check_interval, local_zone
    from footfall.edge.counts import CountReader, Filter

    m = re.fullmatch(r"(\d+)([mhd])", interval)
    if not m or int(m.group(1)) == 0:
        raise click.BadParameter(f"{interval!r}: use e.g. 15m, 1h or 1d", param_hint="--interval")
    interval_s = int(m.group(1)) * {"m": 60, "h": 3600, "d": 86400}[m.group(2)]
    try:
        check_interval(interval_s)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--interval") from None
    try:
        zone = "UTC" if utc else tz_name
        tz = ZoneInfo(zone) if zone else local_zone()
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"{tz_name!r}: use an IANA zone such as Europe/Paris", param_hint="--timezone"
        ) from None
    end = _parse_time(until, dt.datetime.now(tz), tz).astimezone(tz)
    start = _parse_time(since, end - dt.timedelta(days=1), tz).astimezone(tz)
    rows = CountReader(db).interval_counts(
        start.timestamp(), end.timestamp(), interval_s, tz, flt=Filter(cameras=cameras, lines=lines)
    )
    out = [
        {
            "interval_start": dt.datetime.fromtimestamp(r.start, tz).isoformat(timespec="minutes"),
            "camera": r.group[0],
            "line": r.group[1],
            "class": r.group[2],
            "direction": r.direction,
            "count": r.n,
        }
        for r in rows
    ]
    if fmt == "json":
        click.echo(json.dumps(out, indent=1))
    elif fmt == "csv":
        writer = csv.DictWriter(
            sys.stdout, fieldnames=["interval_start", "camera", "line", "class", "direction", "count"]
        )
        writer.writeheader()
        writer.writerows(out)
    else:
        click.echo(f"{'interval start':<22} {'camera':<12} {'line':<12} {'class':<14} {'direction':<9} {'count':>6}")
        for r in out:
            click.echo(
                f"{r['interval_start']:<22} {r['camera']:<12} {r['line']:<12} {r['class']:<14} "
                f"{r['direction']:<9} {r['count']:>6}"
            )
        total = {d: sum(int(str(r["count"])) for r in out if r["direction"] == d) for d in ("in", "out", "uturn")}
        click.echo(
            f"total: {total['in']} in, {total['out']} out, {total['uturn']} U-turns "
            f"({start.isoformat(timespec='minutes')} to {end.isoformat(timespec='minutes')})"
        )


@edge.command("export-onnx")
@click.option(
    "--weights",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="Original YOLOv5 checkpoint, e.g. yolov5n.pt.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Destination .onnx file.")
@click.option("--opset", default=17, show_default=True)
def export_onnx_cmd(weights: Path, out: Path, opset: int) -> None:
    """Export an original yolov5 .pt checkpoint to ONNX (dynamic input size, class names inside)."""
    from footfall.edge.detectors.export import export_onnx

    export_onnx(weights, out, opset=opset)
    click.echo(f"wrote {out}")


@edge.command("quantize")
@click.option(
    "--model", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True, help="FP32 .onnx."
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Destination INT8 .onnx file.")
@click.option(
    "--calibration",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="The store's own frames: a folder of images (e.g. the capture spool) or a video file.",
)
@click.option("--frames", default=40, show_default=True, help="Calibration frames taken, spread evenly.")
@click.option("--input-size", default=480, show_default=True, help="model.input_size the devices run.")
def quantize_cmd(model: Path, out: Path, calibration: Path, frames: int, input_size: int) -> None:
    """Write an INT8 model for CPUs, calibrated on a store's frames (its detection head stays FP32)."""
    from footfall.edge.detectors.quantize import calibration_frames, quantize_int8

    try:
        images = calibration_frames(calibration, frames)
        quantize_int8(model, out, images, input_size=input_size)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out} (INT8, calibrated on {len(images)} frames of {calibration})")


@edge.command("export-reid")
@click.option("--weights", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
def export_reid_cmd(weights: Path, out: Path) -> None:
    """Export OSNet ReID weights (boxmot .pt) to ONNX for the StrongSORT tracker."""
    from footfall.edge.tracking.boxmot_backend import export_reid_onnx

    export_reid_onnx(weights, out)
    click.echo(f"wrote {out}")


@edge.command("sync")
@click.option("--config", "config_path", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--to", "url", help="Override capture.sync.url: s3://BUCKET/PREFIX or file://PATH.")
@click.option("--store", help="Override capture.sync.store.")
def sync_cmd(config_path: Path, url: str | None, store: str | None) -> None:
    """Upload the capture spool; local items are deleted only after their upload is confirmed."""
    from footfall.edge.capture import Spool
    from footfall.edge.sync import sync_spool
    from footfall.registry.storage import open_storage

    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    target_url = url or cfg.capture.sync.url
    if not target_url:
        raise click.UsageError("no upload target: set capture.sync.url or pass --to")
    spool = Spool.of(cfg.capture)
    try:
        result = sync_spool(spool, open_storage(target_url), store or cfg.capture.sync.store)
    except Exception as exc:  # network cut, credentials: what was confirmed stays deleted, the rest stays queued
        raise click.ClickException(f"sync stopped: {exc}; run it again to resume") from None
    finally:
        spool.close()
    click.echo(f"uploaded {result.uploaded} item(s) in {result.seconds:.1f}s; {result.remaining} left")


@edge.command("ship")
@click.option("--config", "config_path", type=click.Path(path_type=Path, exists=True), required=True)
@click.option(
    "--every", is_flag=True, help="Keep shipping every central.every_s seconds (the device's shipper service)."
)
def ship_cmd(config_path: Path, every: bool) -> None:
    """Ship the crossings not yet acked to the chain's central store (central.url); exactly once, resumable."""
    from footfall.edge.ship import ShipError, ShipRefused, Target, lines_of, ship

    try:
        cfg = load_config(config_path)
        target = Target.of(cfg.central)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    from footfall.edge.store import CountStore

    lines = lines_of(cfg)
    with CountStore(cfg.storage.db) as store:
        while True:
            try:
                r = ship(store, target, lines)
                click.echo(f"shipped {r.shipped} crossing(s) ({r.added} new) in {r.seconds:.1f}s; {r.remaining} left")
            except ShipRefused as exc:  # the backlog stays on the device until the catalogue is fixed
                if not every:
                    raise click.ClickException(f"{exc}; nothing was forgotten") from None
                log.error("%s; nothing was forgotten", exc)
            except ShipError as exc:
                if not every:
                    raise click.ClickException(f"{exc}; nothing was forgotten, run it again to resume") from None
                log.warning("%s; retrying in %.0f s", exc, cfg.central.every_s)
            if not every:
                return
            time.sleep(cfg.central.every_s)
