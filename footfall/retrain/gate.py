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
        for seq, scores in candidate.get("sequences", {}).items():
            before = production.get("sequences", {}).get(seq, {}).get("count_error_pct")
            if before is None:
                continue
            rise = scores["count_error_pct"] - before
            if rise > gate.max_count_error_increase:
                ok = False
                reasons.append(
                    f"sequence {seq}: count error {before:.1f}% → {scores['count_error_pct']:.1f}% "
                    f"(+{rise:.1f} points, more than {gate.max_count_error_increase:.1f} allowed)"
                )
    reasons.insert(0, "accepted" if ok else "rejected")
    return Decision(ok, reasons, gate.model_dump())
