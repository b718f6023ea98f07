"""The promotion gate: does the candidate beat production, on the same held-out manifest?"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from footfall.retrain.config import GateSettings


@dataclass(frozen=True)
class Decision:
    """``accepted`` and, either way, every reason in words (recorded in the version's metadata)."""

    accepted: bool
    reasons: list[str] = field(default_factory=list)
    thresholds: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(candidate: dict[str, Any], production: dict[str, Any], gate: GateSettings) -> Decision:
    """Accept only if the headline metric improves by ``min_improvement``, no class loses more than
    ``max_class_regression`` AP@0.5, and (if configured) the count error does not grow."""
    if candidate["heldout"]["fingerprint"] != production["heldout"]["fingerprint"]:
        raise ValueError(
            "candidate and production were scored on different held-out sets "
            f"({candidate['heldout']['fingerprint'][:12]} vs {production['heldout']['fingerprint'][:12]}); "
            "a comparison needs the same manifest"
        )
    reasons: list[str] = []
    ok = True
    new, old = candidate[gate.metric], production[gate.metric]
    gain = new - old
    passed = gain >= gate.min_improvement
    ok &= passed
    reasons.append(
        f"{gate.metric} {new:.4f} vs production {old:.4f} ({gain:+.4f}; needs ≥ {gate.min_improvement:+.4f}): "
        + ("better" if passed else "not better enough")
    )
    for name, scores in candidate["per_class"].items():
        before = production["per_class"].get(name, {}).get("ap50", 0.0)
        after = scores["ap50"]
        if math.isnan(after) or math.isnan(before):
            continue  # no instances of this class in the held-out set
        drop = before - after
        if drop > gate.max_class_regression:
            ok = False
            reasons.append(
                f"class {name}: AP@0.5 {before:.4f} → {after:.4f} (−{drop:.4f}, more than the "
                f"{gate.max_class_regression:.4f} allowed)"
            )
    if gate.max_count_error_increase is not None:
        problems = count_regressions(
            candidate.get("sequences", {}), production.get("sequences", {}), gate.max_count_error_increase
        )
        ok &= not problems
        reasons += problems
    reasons.insert(0, "accepted" if ok else "rejected")
    return Decision(ok, reasons, gate.model_dump())


# On a labelled sequence of a few hundred frames one crossing moves the mean count error by several
# points (one of 7 true crossings in one of 4 line directions: 3.6): a candidate that gets one crossing
# more wrong than the model it replaces is within what the sequence can tell apart, not a regression.
TOLERATED_CROSSINGS = 1


def wrong_crossings(scores: dict[str, Any]) -> int | None:
    """Crossings a model got wrong on a sequence (|counted − true| over every line and direction)."""
    lines = scores.get("lines")
    if not lines:
        return None
    return sum(abs(int(line["counted"][d]) - int(line["truth"][d])) for line in lines.values() for d in line["truth"])


def count_regressions(candidate: dict[str, Any], baseline: dict[str, Any], max_increase: float) -> list[str]:
    """Sequences on which the candidate's mean count error rose by more than ``max_increase`` points and,
    where the crossings are known, by more than ``TOLERATED_CROSSINGS`` crossing (the gate and the
    release both judge counts with this)."""
    problems = []
    for seq, scores in sorted(candidate.items()):
        base = baseline.get(seq)
        if base is None or base.get("count_error_pct") is None:
            continue
        before, after = float(base["count_error_pct"]), float(scores["count_error_pct"])
        if after - before <= max_increase:
            continue
        mine, theirs = wrong_crossings(scores), wrong_crossings(base)
        if mine is not None and theirs is not None and mine - theirs <= TOLERATED_CROSSINGS:
            continue
        problems.append(
            f"sequence {seq}: count error {before:.2f} % → {after:.2f} % (+{after - before:.2f} points, more than "
            f"{max_increase:g} allowed"
            + (f"; {mine} crossings wrong against {theirs}" if mine is not None and theirs is not None else "")
            + ")"
        )
    return problems
