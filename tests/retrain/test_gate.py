from __future__ import annotations

import pytest

from footfall.retrain.config import GateSettings
from footfall.retrain.gate import decide


def scores(map50: float, per_class: dict[str, float], *, fingerprint: str = "f" * 64, count_error: float = 5.0) -> dict:
    return {
        "heldout": {"fingerprint": fingerprint},
        "map50": map50,
        "map50_95": map50 / 2,
        "per_class": {k: {"ap50": v} for k, v in per_class.items()},
        "sequences": {"pets": {"count_error_pct": count_error}},
    }


@pytest.mark.parametrize(
    ("candidate", "production", "accepted", "reason"),
    [
        pytest.param(
            scores(0.80, {"a": 0.8, "b": 0.8}),
            scores(0.70, {"a": 0.7, "b": 0.7}),
            True,
            r"\+0.1000.*better",
            id="better",
        ),
        pytest.param(
            scores(0.703, {"a": 0.703}), scores(0.70, {"a": 0.70}), False, "not better enough", id="below-margin"
        ),
        pytest.param(scores(0.60, {"a": 0.6}), scores(0.70, {"a": 0.7}), False, "not better enough", id="worse"),
        # the mean improves, but the minority class collapses: rejected, with the class named
        pytest.param(
            scores(0.80, {"a": 0.95, "child": 0.65}),
            scores(0.75, {"a": 0.75, "child": 0.75}),
            False,
            r"class child: AP@0.5 0.7500 → 0.6500",
            id="class-regression",
        ),
        pytest.param(
            scores(0.80, {"a": 0.8, "b": float("nan")}),
            scores(0.70, {"a": 0.7, "b": 0.9}),
            True,
            "better",
            id="class-without-instances-ignored",
        ),
    ],
)
def test_gate_table(candidate: dict, production: dict, accepted: bool, reason: str) -> None:
    decision = decide(candidate, production, GateSettings())
    assert decision.accepted is accepted
    assert decision.reasons[0] == ("accepted" if accepted else "rejected")
    assert any(__import__("re").search(reason, r) for r in decision.reasons), decision.reasons
    assert decision.thresholds["min_improvement"] == 0.005


def test_count_error_guard_is_optional() -> None:
    cand, prod = scores(0.8, {"a": 0.8}, count_error=20.0), scores(0.7, {"a": 0.7}, count_error=5.0)
    assert decide(cand, prod, GateSettings()).accepted
    decision = decide(cand, prod, GateSettings(max_count_error_increase=5.0))
    assert not decision.accepted
    assert "count error 5.0% → 20.0%" in " ".join(decision.reasons)


def test_different_heldout_sets_cannot_be_compared() -> None:
    with pytest.raises(ValueError, match="different held-out sets"):
        decide(scores(0.8, {}, fingerprint="a" * 64), scores(0.7, {}, fingerprint="b" * 64), GateSettings())
