"""``footfall harvest``: select last night's most useful frames and push them to Label Studio.

Idempotent per window: the selection of a window (``--since``/``--until``) is written to
``report_dir`` before anything is pushed; a re-run of the same window reuses it and pushes only the
items the project does not hold yet (tasks carry ``item_id``), so an outage mid-push is resumed, never
duplicated.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np

from footfall.common.capture import CaptureKey
from footfall.common.config import ConfigError
from footfall.harvest.collect import Item, list_items, to_records
from footfall.harvest.config import HarvestConfig
from footfall.harvest.select import Budget, select
from footfall.labeling.contract import prediction
from footfall.labeling.studio import Studio, local_file_url
from footfall.registry.storage import open_storage

log = logging.getLogger("footfall.harvest")


def last_night(now: datetime | None = None) -> tuple[float, float]:
    """[yesterday 00:00, today 00:00) UTC."""
    today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (today - timedelta(days=1)).timestamp(), today.timestamp()


def _window_name(since: float, until: float) -> str:
    fmt = "%Y%m%dT%H%M%S"
    return f"{datetime.fromtimestamp(since, UTC):{fmt}}-{datetime.fromtimestamp(until, UTC):{fmt}}"


def choose(cfg: HarvestConfig, items: list[Item]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The frames chosen (with the term that set each apart) and the strategy's terms that were off."""
    records = to_records(items, cfg.classes, cfg.conf_threshold, cfg.class_map)
    budget = Budget(cfg.budget, cfg.per_store, cfg.per_camera, cfg.background_share, cfg.near_duplicate_bits)
    chosen = select(records, budget, cfg.strategy, cfg.seed)
    by_id = {i.item: i for i in items}
    out = []
    for row, reason in zip(chosen.index.tolist(), chosen.reasons, strict=True):
        item = by_id[str(records.ids[row])]
        out.append(
            {
                "item": item.item,
                "day": item.key.day,
                "store": item.store,
                "camera": item.camera,
                "ts": item.ts,
                "reason": reason,
                "uncertainty": round(float(records.uncertainty[row]), 4),
                "classes": {
                    c: int(n) for c, n in zip(cfg.classes, records.class_counts[row].tolist(), strict=True) if n
                },
                # boxes of a class the project does not have and class_map does not map: not pre-annotated
                "unmapped_boxes": sum(cfg.project_class(b["class"]) is None for b in item.meta.get("boxes", [])),
            }
        )
    log.info(
        "harvest: %d of %d frames chosen (%s); %d near-duplicates and %d over quota skipped",
        len(out),
        len(items),
        cfg.strategy,
        chosen.skipped_duplicates,
        chosen.skipped_quota,
    )
    for term, why in chosen.terms_off.items():
        log.info("harvest: the %r term is off: %s", term, why)
    return out, chosen.terms_off


def run_harvest(cfg: HarvestConfig, since: float, until: float, *, studio: Studio | None = None) -> dict[str, Any]:
    """Select (or reuse this window's selection), push what the project lacks, write the report."""
    captures = open_storage(cfg.captures)
    cfg.report_dir.mkdir(parents=True, exist_ok=True)
    name = _window_name(since, until)
    selection_path = cfg.report_dir / f"selection-{name}.json"
    if selection_path.exists():
        saved = json.loads(selection_path.read_text())
        chosen, terms_off = saved["chosen"], saved.get("terms_off", {})
        log.info("harvest: reusing the selection of %s (%d frames)", name, len(chosen))
        pool = None
    else:
        items = list_items(captures, since, until)
        chosen, terms_off = choose(cfg, items)
        pool = len(items)
        tmp = selection_path.with_suffix(".tmp")
        selection = {"window": name, "pool": pool, "strategy": cfg.strategy, "terms_off": terms_off, "chosen": chosen}
        tmp.write_text(json.dumps(selection, indent=1))
        os.replace(tmp, selection_path)
    if studio is None:
        token = os.environ.get(cfg.studio.token_env)
        if not token:
            raise ConfigError(
                "harvest", [f"harvest.studio.token_env: ${cfg.studio.token_env} is not set (the API token)"]
            )
        studio = Studio(cfg.studio.url, token)
    project = studio.ensure_project(cfg.studio.project, cfg.classes)
    folder = cfg.studio.files_root / "harvest"
    folder.mkdir(parents=True, exist_ok=True)
    studio.ensure_local_storage(project, folder)
    present = studio.settle(project)  # an import the last run sent twice is one task again
    todo = [c for c in chosen if c["item"] not in present]
    pushed = 0
    for start in range(0, len(todo), cfg.push_batch):
        batch = [_task(cfg, captures, c) for c in todo[start : start + cfg.push_batch]]
        studio.import_tasks(project, batch)
        pushed += len(batch)
        log.info("harvest: pushed %d/%d", pushed, len(todo))
    report = _report(name, cfg, chosen, pool, pushed, len(chosen) - len(todo), project)
    report["terms_off"] = terms_off  # terms of the strategy that could not tell this pool's frames apart
    (cfg.report_dir / f"report-{name}.json").write_text(json.dumps(report, indent=1))
    return report


def _task(cfg: HarvestConfig, captures: Any, chosen: dict[str, Any]) -> dict[str, Any]:
    # a selection written before the day was recorded kept the key prefix captures/STORE/CAMERA/DAY
    day = chosen.get("day") or chosen["prefix"].rsplit("/", 1)[-1]
    key = CaptureKey(chosen["store"], chosen["camera"], day, chosen["item"])
    rel = f"harvest/{key.store}/{key.camera}/{key.item}.jpg"
    target = cfg.studio.files_root / rel
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        with open(tmp, "wb") as fh:
            captures.download(key.image, fh)
        os.replace(tmp, target)
    meta = json.loads(captures.get(key.meta)[0])
    width, height = meta.get("width"), meta.get("height")
    if not width or not height:
        image = cv2.imread(str(target))
        if image is None:
            raise ValueError(f"{target}: not a readable image (capture {chosen['item']})")
        height, width = image.shape[:2]
    data = {
        "image": local_file_url(rel),
        "path": rel,
        "item_id": chosen["item"],
        "frame": meta.get("frame"),
        "store": chosen["store"],
        "camera": chosen["camera"],
        "ts": chosen["ts"],
        "reason": chosen["reason"],
    }
    boxes = [{**b, "class": cls} for b in meta.get("boxes", []) if (cls := cfg.project_class(b["class"]))]
    version = meta.get("model_version") or "unknown"
    return {"data": data, "predictions": [prediction(boxes, cfg.classes, int(width), int(height), version)]}


def _report(
    name: str,
    cfg: HarvestConfig,
    chosen: list[dict[str, Any]],
    pool: int | None,
    pushed: int,
    present: int,
    project: int,
) -> dict[str, Any]:
    per_store: dict[str, Any] = {}
    for c in chosen:
        s = per_store.setdefault(
            c["store"],
            {"frames": 0, "reasons": Counter(), "boxes": Counter(), "cameras": Counter(), "unmapped_boxes": 0},
        )
        s["frames"] += 1
        s["unmapped_boxes"] += c.get("unmapped_boxes", 0)
        s["reasons"][c["reason"]] += 1
        s["boxes"].update(c["classes"])
        s["cameras"][c["camera"]] += 1
    return {
        "window": name,
        "strategy": cfg.strategy,
        "budget": cfg.budget,
        "pool": pool,
        "chosen": len(chosen),
        "pushed": pushed,
        "already_in_project": present,
        "project": project,
        "per_store": {
            k: {kk: dict(vv) if isinstance(vv, Counter) else vv for kk, vv in v.items()} for k, v in per_store.items()
        },
        "mean_uncertainty": round(float(np.mean([c["uncertainty"] for c in chosen])), 4) if chosen else None,
    }
