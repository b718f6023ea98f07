"""Choose the captured frames worth an annotator's time, within a budget.

Input is a columnar table of capture records (one row per captured frame, built from the capture
manifests): store, camera, time, the frame's perceptual hash, and per-frame summaries of the model's
boxes (uncertainty, predicted class counts, disagreement along tracks). Everything is NumPy over
columns, so a million records select in seconds and memory is the table itself.

Strategies (``STRATEGIES``):
- ``random``: uniform, the baseline every other strategy must beat.
- ``uncertainty``: least confident / smallest margin / highest entropy boxes first.
- ``diversity``: spread over stores, cameras and time; near-duplicates dropped.
- ``count-aware``: frames where a count may be wrong first — the device saw a crossing there by a short
  or weak track, a run-back, a re-crossing or a close class vote (``edge.types.CountRisk``) — the most
  such reasons first, then the most uncertain; near-duplicates dropped.
- ``balanced`` (default): uncertainty + track disagreement + class rarity (so the majority class
  cannot eat the budget) + count risk + a share of background frames, with near-duplicates dropped and
  per-store and per-camera quotas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Records:
    """Columns of N capture records. ``class_counts`` is (N, C) predicted boxes per class."""

    ids: np.ndarray  # (N,) str
    store: np.ndarray  # (N,) int codes into ``stores``
    camera: np.ndarray  # (N,) int codes into ``cameras``
    ts: np.ndarray  # (N,) float seconds
    dhash: np.ndarray  # (N,) uint64 perceptual hash of the image
    uncertainty: np.ndarray  # (N,) float in [0, 1]: the most uncertain box of the frame
    disagreement: np.ndarray  # (N,) float in [0, 1]: share of its tracks whose class flips over time
    class_counts: np.ndarray  # (N, C) int
    # (N,) float in [0, 1]: how many ways a crossing the device saw on this frame may be counted wrong
    # (kinds of CountRisk, a third each, capped at 1); empty → none for any record
    count_risk: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # (N, C) float: the model's class probabilities summed over the frame's boxes — how much of each
    # class the frame probably holds, also where the model's first choice is the majority class;
    # empty → ``class_counts``
    class_mass: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # (N,) uint64: which cells of an 8 × 8 grid over the picture hold a box's foot point. A fixed camera's
    # frames all look alike to ``dhash`` (people are small against the scene): two frames are duplicates
    # only if this layout is the same too. Empty → zeros (``dhash`` alone decides)
    layout: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    stores: list[str] = field(default_factory=list)
    cameras: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def __post_init__(self) -> None:
        n = len(self.ids)
        if not len(self.count_risk):
            self.count_risk = np.zeros(n)
        if not len(self.class_mass):
            self.class_mass = self.class_counts.astype(np.float64)
        if not len(self.layout):
            self.layout = np.zeros(n, np.uint64)
        for name in _COLUMNS:
            if len(getattr(self, name)) != n:
                raise ValueError(f"Records.{name} has {len(getattr(self, name))} rows, ids has {n}")


_COLUMNS: tuple[str, ...] = ("store", "camera", "ts", "dhash", "uncertainty", "disagreement", "class_counts")
_COLUMNS += ("count_risk", "class_mass", "layout")


@dataclass(frozen=True)
class Budget:
    total: int
    per_store: int | None = None
    per_camera: int | None = None
    background_share: float = 0.1
    near_duplicate_bits: int = 6  # Hamming distance of 64-bit dHashes at or below which frames are duplicates
    near_duplicate_layout_bits: int = 0  # … and of their box layouts (``Records.layout``)


@dataclass
class Selection:
    index: np.ndarray  # chosen rows, in order of choice
    reasons: list[str]  # one per chosen row: the term that set it apart
    skipped_duplicates: int = 0
    skipped_quota: int = 0
    terms_off: dict[str, str] = field(default_factory=dict)  # a term that cannot tell frames apart → why


def uncertainty_of(probs: np.ndarray, conf: np.ndarray, threshold: float = 0.25) -> np.ndarray:
    """Per box, in [0, 1]: the highest of least-confidence, margin and normalised entropy of the class
    probabilities, and how close the detection score sits to the threshold (is it a person at all?)."""
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or not len(probs):
        return np.zeros(len(probs))
    near = 1 - np.clip(np.abs(np.asarray(conf, np.float64) - threshold) / max(1 - threshold, 1e-9), 0, 1)
    if probs.shape[1] == 1:
        return near  # one class: the only doubt is whether it is a person at all
    p = probs / np.maximum(probs.sum(1, keepdims=True), 1e-9)
    ordered = np.sort(p, axis=1)[:, ::-1]
    least = 1 - ordered[:, 0]
    margin = 1 - (ordered[:, 0] - ordered[:, 1])
    entropy = -(p * np.log(np.maximum(p, 1e-12))).sum(1) / np.log(p.shape[1])
    return np.clip(np.max(np.vstack([least, margin, entropy, near]), 0), 0, 1)


def rarity_of(records: Records) -> np.ndarray:
    """Per frame, in [0, 1]: how much of it belongs to classes the pool has little of, by the model's
    class probabilities (``class_mass``): a woman the model calls a man at 0.6 still counts 0.4 woman.
    Only classes the model gives some box of the pool count: a class it has never learnt (no training
    example yet) scores every person alike, which says nothing about any of them."""
    present = records.class_counts.sum(0) > 0
    mass = records.class_mass * present
    totals = mass.sum(0)
    if totals.sum() == 0:
        return np.zeros(len(records))
    share = totals / totals.sum()
    weight = np.where(totals > 0, 1 / np.maximum(share, 1e-12), 0.0)  # inverse frequency of present classes
    weight /= weight.max()
    boxes = mass.sum(1)
    score = (mass * weight).sum(1) / np.maximum(boxes, 1e-12)
    return np.where(boxes > 0, score, 0.0)


def _popcount(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64)
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((x * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)


@dataclass
class _Taken:
    hashes: dict[int, list[int]] = field(default_factory=dict)
    layouts: dict[int, list[int]] = field(default_factory=dict)
    per_store: dict[int, int] = field(default_factory=dict)
    per_camera: dict[int, int] = field(default_factory=dict)


def _greedy(
    records: Records, order: np.ndarray, budget: Budget, tags: np.ndarray, limit: int, taken: _Taken | None = None
) -> Selection:
    """Take rows in ``order`` until ``limit``: skip near-duplicates (same camera) and full quotas.
    ``taken`` carries hashes and quota counts over from an earlier pass."""
    taken = taken or _Taken()
    chosen: list[int] = []
    reasons: list[str] = []
    hashes, layouts, per_store, per_camera = taken.hashes, taken.layouts, taken.per_store, taken.per_camera
    dup = quota = 0
    for i in order.tolist():
        if len(chosen) >= limit:
            break
        s, c = int(records.store[i]), int(records.camera[i])
        if (budget.per_store is not None and per_store.get(s, 0) >= budget.per_store) or (
            budget.per_camera is not None and per_camera.get(c, 0) >= budget.per_camera
        ):
            quota += 1
            continue
        seen, seen_layout = hashes.setdefault(c, []), layouts.setdefault(c, [])
        if seen and budget.near_duplicate_bits >= 0:
            near = _popcount(np.bitwise_xor(np.array(seen, np.uint64), records.dhash[i])) <= budget.near_duplicate_bits
            same = (
                _popcount(np.bitwise_xor(np.array(seen_layout, np.uint64), records.layout[i]))
                <= budget.near_duplicate_layout_bits
            )
            if bool((near & same).any()):
                dup += 1
                continue
        seen.append(int(records.dhash[i]))
        seen_layout.append(int(records.layout[i]))
        per_store[s] = per_store.get(s, 0) + 1
        per_camera[c] = per_camera.get(c, 0) + 1
        chosen.append(i)
        reasons.append(str(tags[i]))
    return Selection(np.array(chosen, np.int64), reasons, dup, quota)


def _merge(a: Selection, b: Selection) -> Selection:
    return Selection(
        np.concatenate([a.index, b.index]),
        a.reasons + b.reasons,
        a.skipped_duplicates + b.skipped_duplicates,
        a.skipped_quota + b.skipped_quota,
    )


def select_random(records: Records, budget: Budget, rng: np.random.Generator) -> Selection:
    order = rng.permutation(len(records))
    no_dedup = Budget(budget.total, budget.per_store, budget.per_camera, 0.0, near_duplicate_bits=-1)
    return _greedy(records, order, no_dedup, np.full(len(records), "random"), budget.total)


def select_uncertainty(records: Records, budget: Budget, rng: np.random.Generator) -> Selection:
    order = np.lexsort((rng.random(len(records)), -records.uncertainty))
    return _greedy(records, order, budget, np.full(len(records), "uncertainty"), budget.total)


def select_count_aware(records: Records, budget: Budget, rng: np.random.Generator) -> Selection:
    """Count-risk frames first (the most reasons first, then the most uncertain); when they run out, the
    most uncertain of the rest — each tagged with what chose it."""
    order = np.lexsort((rng.random(len(records)), -records.uncertainty, -records.count_risk))
    tags = np.where(records.count_risk > 0, "count risk", "uncertainty")
    return _greedy(records, order, budget, tags, budget.total)


def select_diversity(records: Records, budget: Budget, rng: np.random.Generator) -> Selection:
    """Round-robin over cameras, each camera's frames spread evenly in time."""
    key = records.camera.astype(np.int64)
    by_time = np.lexsort((records.ts, key))
    _, starts, counts = np.unique(key[by_time], return_index=True, return_counts=True)
    rank = np.empty(len(records), np.float64)
    for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
        # position within the camera's timeline, in a bit-reversed order: 0, 1/2, 1/4, 3/4, ...
        positions = np.arange(count)
        rank[by_time[start : start + count]] = _van_der_corput(positions) + rng.random(count) * 1e-9
    order = np.lexsort((key, rank))
    return _greedy(records, order, budget, np.full(len(records), "diversity"), budget.total)


def _van_der_corput(n: np.ndarray) -> np.ndarray:
    out = np.zeros(len(n))
    denom = 1.0
    n = n.copy()
    while n.any():
        denom *= 2
        out += (n & 1) / denom
        n >>= 1
    return out


BALANCED_TERMS = {"uncertainty": 0.3, "disagreement": 0.2, "rare class": 0.25, "count risk": 0.25}


@dataclass(frozen=True)
class Scores:
    """``balanced``'s score per frame, the term that set each frame apart, and the terms that are off."""

    score: np.ndarray
    reason: np.ndarray
    off: dict[str, str]


def balanced_scores(records: Records) -> Scores:
    """Score in [0, 1] per frame: the weighted terms that can tell this pool's frames apart.

    A term that is the same for every frame (one class in the pool, so rarity is 1.0 everywhere; no track
    whose class flips) cannot choose anything: it is off, its weight goes to the others, and the report
    says so. A frame's reason is the term whose weighted value lies furthest above the pool's mean: what
    made it rank above the others, not merely the largest number."""
    terms = {
        "uncertainty": records.uncertainty,
        "disagreement": records.disagreement,
        "rare class": rarity_of(records),
        "count risk": records.count_risk,
    }
    off: dict[str, str] = {}
    present = int((records.class_counts.sum(0) > 0).sum()) if len(records) else 0
    if present < 2:
        off["rare class"] = f"{present} class in the pool: rarity is the same for every frame"
    for name, values in terms.items():
        if name not in off and (len(values) == 0 or float(np.ptp(values)) == 0.0):
            off[name] = f"the same for every frame ({float(values[0]) if len(values) else 0:g})"
    names = [n for n in terms if n not in off]
    if not names:
        return Scores(np.zeros(len(records)), np.full(len(records), "no term discriminates"), off)
    total = sum(BALANCED_TERMS[n] for n in names)
    parts = np.vstack([terms[n] * (BALANCED_TERMS[n] / total) for n in names])
    above = parts - parts.mean(axis=1, keepdims=True)
    return Scores(parts.sum(0), np.array(names)[np.argmax(above, axis=0)], off)


def select_balanced(records: Records, budget: Budget, rng: np.random.Generator) -> Selection:
    boxes = records.class_counts.sum(1)
    background = boxes == 0
    n_bg = round(budget.total * budget.background_share)
    scores = balanced_scores(records)
    score, why = scores.score, scores.reason
    order = np.lexsort((rng.random(len(records)), -score))
    order = order[~background[order]]
    taken = _Taken()
    main = _greedy(records, order, budget, why, budget.total - min(n_bg, int(background.sum())), taken)
    bg_order = rng.permutation(np.nonzero(background)[0])  # backgrounds: any may hide a missed person
    bg = _greedy(records, bg_order, budget, np.full(len(records), "background"), budget.total - len(main.index), taken)
    if len(main.index) + len(bg.index) < budget.total:  # too few backgrounds: fill with the next best frames
        more = _greedy(records, order, budget, why, budget.total - len(main.index) - len(bg.index), taken)
        new = ~np.isin(more.index, main.index)
        more.index = more.index[new]
        more.reasons = [r for r, keep in zip(more.reasons, new.tolist(), strict=True) if keep]
        out = _merge(_merge(main, bg), more)
    else:
        out = _merge(main, bg)
    out.terms_off = scores.off
    return out


STRATEGIES: dict[str, Callable[[Records, Budget, np.random.Generator], Selection]] = {
    "random": select_random,
    "uncertainty": select_uncertainty,
    "diversity": select_diversity,
    "count-aware": select_count_aware,
    "balanced": select_balanced,
}


def select(records: Records, budget: Budget, strategy: str = "balanced", seed: int = 0) -> Selection:
    """Pick at most ``budget.total`` rows with ``strategy``."""
    try:
        fn = STRATEGIES[strategy]
    except KeyError:
        raise ValueError(f"Unknown strategy {strategy!r}. Available: {', '.join(sorted(STRATEGIES))}") from None
    if budget.total < 0:
        raise ValueError(f"budget {budget.total}: must be ≥ 0")
    return fn(records, budget, np.random.default_rng(seed))
