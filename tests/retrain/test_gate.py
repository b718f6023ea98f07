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
    assert "count error 5.00 % → 20.00 %" in " ".join(decision.reasons)


def _sequence(error_pct: float, counted: dict[str, int], truth: dict[str, int]) -> dict:
    return {"pets": {"count_error_pct": error_pct, "lines": {"x240": {"counted": counted, "truth": truth}}}}


def test_one_crossing_more_wrong_is_within_what_a_short_sequence_resolves() -> None:
    """7 true crossings each way: one more wrong is +7 points of mean error, which a 1-point threshold
    alone would refuse; two more wrong are refused."""
    from footfall.retrain.gate import count_regressions

    truth = {"in": 7, "out": 7}
    baseline = _sequence(7.1, {"in": 8, "out": 7}, truth)
    one_more = _sequence(14.3, {"in": 8, "out": 8}, truth)
    two_more = _sequence(21.4, {"in": 9, "out": 8}, truth)
    assert count_regressions(one_more, baseline, 1.0) == []
    [problem] = count_regressions(two_more, baseline, 1.0)
    assert "7.10 % → 21.40 %" in problem and "3 crossings wrong against 1" in problem
    assert count_regressions(two_more, baseline, 15.0) == [], "within the points allowed"
    # without per-line counts (older metadata) the points alone decide
    assert count_regressions({"pets": {"count_error_pct": 14.3}}, {"pets": {"count_error_pct": 7.1}}, 1.0)


def test_different_heldout_sets_cannot_be_compared() -> None:
    with pytest.raises(ValueError, match="different held-out sets"):
        decide(scores(0.8, {}, fingerprint="a" * 64), scores(0.7, {}, fingerprint="b" * 64), GateSettings())
