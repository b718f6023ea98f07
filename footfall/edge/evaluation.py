"""Scoring against MOTChallenge-format ground truth: line counts and tracking quality.

Used by the tests, the benchmarks and the retraining gate. motmetrics' own IoU helper uses
``np.asfarray`` (gone in NumPy 2), so the distance matrix is computed here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from footfall.common.geometry import Line
from footfall.common.lines import LineConfig
from footfall.common.mot import load_mot
from footfall.common.traffic import by_track, line_traffic
from footfall.edge.config import CameraConfig, CountingConfig, DashboardConfig, EdgeConfig


@dataclass(frozen=True)
class Crossing:
    """One crossing of a line by one identity: ``frame`` is the first frame on the new side."""

    frame: int
    identity: int
    direction: str
    foot: tuple[float, float]


def tally(events: list[Crossing]) -> dict[str, int]:
    """In and out counts of crossings."""
    return {d: sum(c.direction == d for c in events) for d in ("in", "out")}


def crossing_events(rows: np.ndarray, line: Line, *, segment_only: bool = False) -> list[Crossing]:
    """Crossings of ``line`` by the foot points (x + w/2, y + h) of MOT rows, by identity and frame.

    The ground-truth rule of ``shared/data/mot/PETS09-S2L1``: a crossing is a change of side between
    a track's consecutive annotated frames; every crossing counts; no hysteresis. The line is
    infinite (feet may lie below the image edge) unless ``segment_only``.
    """
    from footfall.common.geometry import Point

    rows, feet = by_track(rows)
    side = np.sign(line.signed_distance(feet))
    side[side == 0] = 1  # on the line counts as "in", as in the reference JSON (x >= 240 is in)
    out = []
    for i in range(1, len(rows)):
        if rows[i, 1] != rows[i - 1, 1] or side[i] == side[i - 1]:
            continue
        if not segment_only or line.segment_crossed(Point(*feet[i - 1]), Point(*feet[i])):
            foot = (round(float(feet[i, 0]), 1), round(float(feet[i, 1]), 1))
            out.append(Crossing(int(rows[i, 0]), int(rows[i, 1]), "in" if side[i] > 0 else "out", foot))
    return sorted(out, key=lambda c: (c.frame, c.identity))


def crossings(rows: np.ndarray, line: Line, *, segment_only: bool = False) -> dict[str, int]:
    """In/out counts of :func:`crossing_events`."""
    return tally(crossing_events(rows, line, segment_only=segment_only))


def crossing_diff(
    truth: list[Crossing],
    counted: list[tuple[int, int, str]],
    gt: np.ndarray,
    hyp: np.ndarray,
    *,
    window_frames: int = 15,
) -> dict[str, list[dict[str, Any]]]:
    """Which true crossings the pipeline missed and which of its crossings have no true counterpart.

    ``counted`` holds the pipeline's crossings of one line as (frame, track id, direction), frames
    1-based like ``gt`` / ``hyp`` (MOT rows). A counted crossing is attributed to the person whose
    annotated box overlaps its track's box most (IoU >= 0.3, within 3 frames); it answers a true
    crossing in the same direction within ``window_frames``: that person's first, then anyone's (when
    people overlap the attribution can be wrong). Tells *where* a count goes wrong.
    """

    def person_of(track: int, frame: int) -> int | None:
        for df in (0, -1, 1, -2, 2, -3, 3):
            h = hyp[(hyp[:, 1] == track) & (hyp[:, 0] == frame + df)]
            g = gt[gt[:, 0] == frame + df]
            if len(h) and len(g):
                d = _iou_distance(g[:, 2:6], h[:1, 2:6], max_d=0.7)[:, 0]
                if not np.isnan(d).all():
                    return int(g[int(np.nanargmin(d)), 1])
        return None

    mine = [(f, t, d, person_of(t, f)) for f, t, d in counted if d in ("in", "out")]
    answered: dict[int, int] = {}  # true crossing → counted one
    # first the counted crossings of the same person, then any left (people who overlap get mixed up)
    for same_person in (True, False):
        for k, c in enumerate(truth):
            if k in answered:
                continue
            near = [
                j
                for j, (f, _, d, p) in enumerate(mine)
                if j not in answered.values()
                and d == c.direction
                and abs(f - c.frame) <= window_frames
                and (p == c.identity or not same_person)
            ]
            if near:
                answered[k] = min(near, key=lambda j: abs(mine[j][0] - c.frame))
    missed = [
        {"frame": c.frame, "person": c.identity, "direction": c.direction, "foot": c.foot}
        for k, c in enumerate(truth)
        if k not in answered
    ]
    used = set(answered.values())
    extra = [
        {"frame": f, "track": t, "direction": d, "person": p} for j, (f, t, d, p) in enumerate(mine) if j not in used
    ]
    return {"missed": missed, "extra": extra}


@dataclass(frozen=True)
class MotScores:
    mota: float
    idf1: float
    id_switches: int
    num_ids: int
    precision: float
    recall: float


def _iou_distance(a: np.ndarray, b: np.ndarray, max_d: float = 0.5) -> np.ndarray:
    if len(a) == 0 or len(b) == 0:
        return np.empty((len(a), len(b)))
    a_br, b_br = a[:, :2] + a[:, 2:], b[:, :2] + b[:, 2:]
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a_br[:, None], b_br[None])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    union = np.prod(a[:, 2:], 1)[:, None] + np.prod(b[:, 2:], 1)[None] - inter
    dist = 1 - inter / np.maximum(union, 1e-9)
    dist[dist > max_d] = np.nan
    return dist


def mot_scores(gt: np.ndarray, hyp: np.ndarray, frames: Iterable[int] | None = None) -> MotScores:
    """CLEAR-MOT and identity scores of ``hyp`` against ``gt`` (rows frame, id, x, y, w, h)."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=False)
    all_frames = sorted(set(gt[:, 0].astype(int)) | set(hyp[:, 0].astype(int))) if frames is None else frames
    for f in all_frames:
        g, h = gt[gt[:, 0] == f], hyp[hyp[:, 0] == f]
        acc.update(g[:, 1].astype(int), h[:, 1].astype(int), _iou_distance(g[:, 2:6], h[:, 2:6]), frameid=f)
    mh = mm.metrics.create()
    s = mh.compute(acc, metrics=["mota", "idf1", "num_switches", "num_unique_objects", "precision", "recall"])
    r = s.iloc[0]
    return MotScores(
        float(r["mota"]),
        float(r["idf1"]),
        int(r["num_switches"]),
        len(set(hyp[:, 1].astype(int))),
        float(r["precision"]),
        float(r["recall"]),
    )


def sequence_config(device: EdgeConfig, name: str, video: Path, lines: list[LineConfig], **model: Any) -> EdgeConfig:
    """``device``'s settings (model, tracker, counting) with one camera: the labelled ``video`` (its
    first frame at t = 0) and ``lines``; ``model`` replaces keys of the model section (e.g. another
    model file to score)."""
    cam = CameraConfig(name=name, source=str(video), lines=lines, start_time=0.0)
    return device.model_copy(
        update={"cameras": [cam], "model": device.model.model_copy(update=model), "dashboard": DashboardConfig()}
    )


def counts_by_class(
    truth: list[Crossing], counted: dict[str, dict[str, int]], class_of: dict[int, str | None]
) -> dict[str, dict[str, dict[str, int]]]:
    """Per class: the true crossings (each person's class from ``class_of``; a person without one is
    ``unknown``) against the counted ones (``counted[direction][class]``; a U-turn is one in and one out)."""
    out: dict[str, dict[str, dict[str, int]]] = {}

    def cell(cls: str) -> dict[str, dict[str, int]]:
        return out.setdefault(cls, {"truth": {"in": 0, "out": 0}, "counted": {"in": 0, "out": 0}})

    for c in truth:
        cell(class_of.get(c.identity) or "unknown")["truth"][c.direction] += 1
    for direction, by_class in counted.items():
        for cls, n in by_class.items():
            for d in ("in", "out") if direction == "uturn" else (direction,):
                cell(cls)["counted"][d] += n
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class _LabelledRun:
    """One camera counted on a labelled video exactly as a device would: what it counted, the tracks it
    followed (MOT rows) and the ground truth of the same frames."""

    camera: CameraConfig
    result: Any  # pipeline.RunResult
    counts: dict[str, dict[str, dict[str, int]]]
    events: list[Any]
    hyp: np.ndarray
    gt: np.ndarray

    def counted(self, line: str) -> tuple[dict[str, int], int]:
        """In and out counted on ``line`` (a U-turn is its two crossings, as the truth counts them), and
        the U-turns among them."""
        by_dir = self.counts.get(line, {})
        uturns = sum(by_dir.get("uturn", {}).values())
        return {d: sum(by_dir.get(d, {}).values()) + uturns for d in ("in", "out")}, uturns


def _run_labelled(
    cfg: EdgeConfig, gt_path: Path, max_frames: int | None, *, lines: list[LineConfig] | None = None
) -> _LabelledRun:
    """Count ``cfg``'s one camera (on ``lines`` instead of its own, when given) and read the truth."""
    import tempfile

    from footfall.edge.build import build_camera
    from footfall.edge.pipeline import run_camera
    from footfall.edge.store import CountStore

    if len(cfg.cameras) != 1:
        raise ValueError(f"a labelled video is scored on one camera; the config has {len(cfg.cameras)}")
    cam = cfg.cameras[0] if lines is None else cfg.cameras[0].model_copy(update={"lines": lines})
    cfg = cfg.model_copy(update={"cameras": [cam]})
    rows: list[list[float]] = []

    def sink(frame: Any, _dets: Any, tracks: Any) -> None:
        for (x1, y1, x2, y2), tid in zip(tracks.xyxy.tolist(), tracks.track_id.tolist(), strict=False):
            rows.append([frame.index + 1, tid, x1, y1, x2 - x1, y2 - y1])

    with tempfile.TemporaryDirectory() as tmp, CountStore(Path(tmp) / "eval.db") as store:
        result = run_camera(
            build_camera(cfg, cam), camera=cam.name, store=store, session="eval", max_frames=max_frames, on_tracks=sink
        )
        counts, events = store.session_counts("eval"), store.events("eval")
    gt = load_mot(gt_path)
    if max_frames:
        gt = gt[gt[:, 0] <= max_frames]
    hyp = np.array(rows) if rows else np.zeros((0, 6))
    return _LabelledRun(cam, result, counts, events, hyp, gt)


def evaluate_sequence(
    cfg: EdgeConfig, gt_path: Path, *, max_frames: int | None = None, class_of: dict[int, str | None] | None = None
) -> dict[str, Any]:
    """Count the one camera of ``cfg`` (a labelled video file) exactly as a device would, and score it.

    The chain is built by ``footfall.edge.build`` from ``cfg`` (the device's model, tracker and
    counting settings). Returns tracking quality (MOTA, IDF1, identity switches) against ``gt_path``
    and, for each line, the counts against the ground-truth crossings of :func:`crossings`, with the
    error in percent per direction, the true crossings it ``missed`` and the ``extra`` ones it counted
    (:func:`crossing_diff`), and ``count_error_pct``, the mean error over lines and directions. The
    ground truth counts every crossing, so a U-turn the device reports counts as its two crossings
    here (one in, one out).
    """
    run = _run_labelled(cfg, gt_path, max_frames)
    counts, gt, hyp = run.counts, run.gt, run.hyp
    scores = mot_scores(gt, hyp)
    per_line = {}
    errors = []
    for lc in run.camera.lines:
        name, line = lc.name, lc.to_line()
        true_events = crossing_events(gt, line)
        truth = tally(true_events)
        got, uturns = run.counted(name)
        error = {d: round(100 * abs(got[d] - truth[d]) / max(truth[d], 1), 1) for d in got}
        errors += list(error.values())
        mine = [
            (frame + 1, track, d)
            for _, _, ln, track, frame, _, _, direction in run.events
            if ln == name
            for d in (("in", "out") if direction == "uturn" else (direction,))
        ]
        per_line[name] = {
            "truth": truth,
            "counted": got,
            "uturns": uturns,
            "error_pct": error,
            **crossing_diff(true_events, mine, gt, hyp),
        }
        if class_of is not None:
            per_line[name]["by_class"] = counts_by_class(true_events, counts.get(name, {}), class_of)
    return {
        "frames": run.result.frames,
        "ms_per_frame": round(1000 * run.result.seconds / max(run.result.frames, 1), 1),
        "mota": round(scores.mota, 4),
        "idf1": round(scores.idf1, 4),
        "id_switches": scores.id_switches,
        "track_ids": scores.num_ids,
        "lines": per_line,
        "count_error_pct": round(float(np.mean(errors)), 2) if errors else 0.0,
    }


# -- a family of lines --------------------------------------------------------------------------
#
# Four hand-picked lines say little about a line an installer draws elsewhere: a family of seeded
# random segments over the walkable part of the picture, counted in one run, says how counting holds
# on lines nobody tuned it on (issue #18).

TRUTH_BAND_PX = 3.0  # a foot within this distance of the line is on neither side


@dataclass(frozen=True)
class LineFamily:
    """How the random segments are drawn: ``count`` of them, from ``seed``, inside ``region``
    (x0, y0, x1, y1 in source pixels), at least ``min_length`` px long, at an angle to the horizontal
    within ``angles`` (degrees, 0–180)."""

    count: int = 24
    seed: int = 0
    region: tuple[float, float, float, float] = (0.0, 0.0, 480.0, 360.0)
    min_length: float = 80.0
    angles: tuple[float, float] = (0.0, 180.0)

    def lines(self) -> list[LineConfig]:
        rng = np.random.default_rng(self.seed)
        x0, y0, x1, y1 = self.region
        out: list[LineConfig] = []
        while len(out) < self.count:
            cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
            angle = np.radians(rng.uniform(*self.angles))
            half = rng.uniform(self.min_length, max(self.min_length, min(x1 - x0, y1 - y0))) / 2
            a = (cx - half * np.cos(angle), cy - half * np.sin(angle))
            b = (cx + half * np.cos(angle), cy + half * np.sin(angle))
            if not all(x0 <= p[0] <= x1 and y0 <= p[1] <= y1 for p in (a, b)):
                continue  # redraw: the whole segment lies in the region
            pts = ((round(float(a[0]), 1), round(float(a[1]), 1)), (round(float(b[0]), 1), round(float(b[1]), 1)))
            out.append(LineConfig(name=f"r{len(out):02d}", points=pts))
        return out


def segment_crossing_events(rows: np.ndarray, line: Line, band_px: float = TRUTH_BAND_PX) -> list[Crossing]:
    """Ground-truth crossings of a segment: a person's foot point (x + w/2, y + h) goes from one side to
    the other, a side being more than ``band_px`` from the line, and the step between the last point on
    the old side and the first on the new one passes through the segment itself (walking along the line,
    or past its end, is no crossing)."""
    from footfall.common.geometry import Point

    rows, feet = by_track(rows)
    dist = line.signed_distance(feet)
    out = []
    last: dict[int, tuple[int, int]] = {}  # identity → (side, row of its last point on that side)
    for i, (row, d) in enumerate(zip(rows, dist, strict=True)):
        ident = int(row[1])
        side = 1 if d > band_px else -1 if d < -band_px else 0
        if side == 0:
            continue
        before = last.get(ident)
        last[ident] = (side, i)
        if before is None or before[0] == side:
            continue
        if line.segment_crossed(Point(*feet[before[1]]), Point(*feet[i])):
            foot = (round(float(feet[i, 0]), 1), round(float(feet[i, 1]), 1))
            out.append(Crossing(int(row[0]), ident, "in" if side > 0 else "out", foot))
    return sorted(out, key=lambda c: (c.frame, c.identity))


def family_accuracy(per_line: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """1 − Σ|counted − truth| / Σ truth over both directions of every line, and the worst line."""
    wrong = sum(abs(v["counted"][d] - v["truth"][d]) for v in per_line.values() for d in ("in", "out"))
    total = sum(v["truth"][d] for v in per_line.values() for d in ("in", "out"))
    worst = max((abs(v["counted"][d] - v["truth"][d]) for v in per_line.values() for d in ("in", "out")), default=0)
    return {
        "accuracy": round(1 - wrong / total, 4) if total else None,
        "wrong": wrong,
        "crossings": total,
        "worst_line_error": worst,
    }


def evaluate_line_family(
    cfg: EdgeConfig, gt_path: Path, family: LineFamily, *, max_frames: int | None = None
) -> dict[str, Any]:
    """Count the random segments of ``family`` on the one camera of ``cfg`` in one run, exactly as a
    device would, and score each against :func:`segment_crossing_events`; the aggregate by the line's
    angle to the walking direction near it and by the height of the people who cross it."""
    run = _run_labelled(cfg, gt_path, max_frames, lines=family.lines())
    return {
        **_family_report(run.gt, family, lambda name: run.counted(name)[0]),
        "frames": run.result.frames,
    }


def count_tracks(
    tracks: np.ndarray,
    lines: list[LineConfig],
    counting: CountingConfig,
    *,
    fps: float,
    frame_hw: tuple[int, int],
) -> dict[str, dict[str, int]]:
    """In and out per line (a U-turn is its two crossings) that the device's counter, with the
    ``counting:`` section ``counting``, makes of tracks given as MOT rows ``frame, id, x, y, w, h, conf``
    — another tracker's output, or ground truth — at ``fps`` frames a second. What it measures is the
    counting rule alone, on tracks this product's detector and tracker did not make."""
    from footfall.edge.counting import CrossingCounter
    from footfall.edge.types import Direction, Tracks

    counter = CrossingCounter.from_config("replay", {lc.name: lc.to_line() for lc in lines}, ["person"], counting)
    got = {lc.name: {"in": 0, "out": 0} for lc in lines}
    events = []
    frames = tracks[:, 0].astype(np.int64)
    for frame in range(int(frames.min()) if len(frames) else 1, (int(frames.max()) if len(frames) else 0) + 1):
        rows = tracks[frames == frame]
        xyxy = np.column_stack([rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]])
        conf = rows[:, 6] if rows.shape[1] > 6 else np.ones(len(rows))
        batch = Tracks(
            xyxy.astype(np.float32),
            rows[:, 1].astype(np.int64),
            np.where(conf > 0, conf, 1.0).astype(np.float32),
            np.zeros(len(rows), np.int32),
            np.full(len(rows), -1, np.int32),
        )
        events += counter.update(batch, (frame - 1) / fps, frame - 1, None, frame_hw)
    events += counter.flush()
    for e in events:
        for d in ("in", "out") if e.direction is Direction.UTURN else (e.direction.value,):
            got[e.line][d] += 1
    return got


def evaluate_tracks_on_family(
    tracks: np.ndarray,
    gt: np.ndarray,
    family: LineFamily,
    counting: CountingConfig,
    *,
    fps: float,
    frame_hw: tuple[int, int],
) -> dict[str, Any]:
    """:func:`evaluate_line_family` for tracks that were made elsewhere (:func:`count_tracks`): the
    counting rule scored on scenes this product cannot run its detector on."""
    counted = count_tracks(tracks, family.lines(), counting, fps=fps, frame_hw=frame_hw)
    return _family_report(gt, family, lambda name: counted[name])


def _family_report(gt: np.ndarray, family: LineFamily, counted: Callable[[str], dict[str, int]]) -> dict[str, Any]:
    """Each of the family's segments scored against :func:`segment_crossing_events` of ``gt``, the
    aggregate, and the aggregate by walking angle and by the height of the people who cross."""
    per_line: dict[str, dict[str, Any]] = {}
    for lc in family.lines():
        line = lc.to_line()
        truth_events = segment_crossing_events(gt, line)
        crossers = [
            float(gt[(gt[:, 1] == c.identity) & (gt[:, 0] == c.frame)][0, 5])
            for c in truth_events
            if ((gt[:, 1] == c.identity) & (gt[:, 0] == c.frame)).any()
        ]
        per_line[lc.name] = {
            "points": [list(p) for p in lc.points],
            "truth": tally(truth_events),
            "counted": counted(lc.name),
            "walk_angle_deg": line_traffic(gt, line).walk_angle_deg,
            "person_height_px": round(float(np.median(crossers)), 1) if crossers else None,
        }

    def bucket(key: str, edges: list[float], label: str) -> dict[str, Any]:
        out = {}
        for lo, hi in itertools.pairwise(edges):
            chosen = {n: v for n, v in per_line.items() if v[key] is not None and lo <= v[key] < hi}
            out[f"{label} {lo:g}-{hi:g}"] = {"lines": len(chosen), **family_accuracy(chosen)}
        return out

    return {
        "family": {
            "count": family.count,
            "seed": family.seed,
            "region": list(family.region),
            "min_length": family.min_length,
            "angles": list(family.angles),
        },
        **family_accuracy(per_line),
        "by_walk_angle": bucket("walk_angle_deg", [0, 30, 60, 90.01], "angle"),
        "by_person_height": bucket("person_height_px", [0, 60, 90, 1000], "height"),
        "lines": per_line,
    }
