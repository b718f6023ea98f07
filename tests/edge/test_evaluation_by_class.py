"""Counts scored per class: each true crossing takes its person's class, a U-turn counts both ways."""

from __future__ import annotations

from footfall.edge.evaluation import Crossing, counts_by_class


def test_counts_by_class() -> None:
    truth = [
        Crossing(10, 1, "in", (0.0, 0.0)),
        Crossing(20, 2, "in", (0.0, 0.0)),
        Crossing(30, 2, "out", (0.0, 0.0)),
        Crossing(40, 9, "out", (0.0, 0.0)),  # a person the table has no class for
    ]
    counted = {"in": {"male_adult": 1, "female_adult": 1}, "uturn": {"male_adult": 1}}
    got = counts_by_class(truth, counted, {1: "male_adult", 2: "female_adult"})
    assert got == {
        "female_adult": {"truth": {"in": 1, "out": 1}, "counted": {"in": 1, "out": 0}},
        "male_adult": {"truth": {"in": 1, "out": 0}, "counted": {"in": 2, "out": 1}},
        "unknown": {"truth": {"in": 0, "out": 1}, "counted": {"in": 0, "out": 0}},
    }
