from __future__ import annotations

import numpy as np
import pytest

from footfall.harvest.select import STRATEGIES, Budget, Records, rarity_of, select, uncertainty_of


def pool(n: int = 400, seed: int = 0, cameras: int = 4) -> Records:
    """A synthetic pool: majority class 2 (male_adult), few class 0 (child), some backgrounds."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((n, 3), np.int64)
    counts[:, 2] = rng.integers(0, 4, n)
    counts[rng.random(n) < 0.05, 0] = 1
    counts[rng.random(n) < 0.2, 1] = 1
    return Records(
        ids=np.array([f"r{i}" for i in range(n)]),
        store=(np.arange(n) % 2).astype(np.int64),
        camera=(np.arange(n) % cameras).astype(np.int64),
        ts=np.arange(n, dtype=np.float64),
        dhash=rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64),
        uncertainty=rng.random(n),
        disagreement=np.where(rng.random(n) < 0.1, 1.0, 0.0),
        class_counts=counts,
        count_risk=np.where(rng.random(n) < 0.08, rng.integers(1, 4, n) / 3, 0.0),
        stores=["s0", "s1"],
        cameras=[f"c{i}" for i in range(cameras)],
        classes=["child", "female_adult", "male_adult"],
    )


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_respects_budget_and_is_deterministic(strategy: str) -> None:
    records = pool()
    a = select(records, Budget(50), strategy, seed=3)
    b = select(records, Budget(50), strategy, seed=3)
    assert len(a.index) == 50 == len(set(a.index.tolist()))
    assert a.index.tolist() == b.index.tolist()
    assert len(a.reasons) == 50


def test_unknown_strategy_lists_the_available_ones() -> None:
    with pytest.raises(
        ValueError, match=r"Unknown strategy 'x'\. Available: balanced, count-aware, diversity, random, uncertainty"
    ):
        select(pool(), Budget(5), "x")


def test_near_duplicates_are_dropped_within_a_camera() -> None:
    records = pool(100)
    records.dhash[:] = np.uint64(0b1111)  # every frame looks the same …
    records.dhash[1::4] ^= np.uint64(0xFFFF_0000)  # … except a second look on camera 1
    chosen = select(records, Budget(10), "uncertainty")
    assert sorted(records.camera[chosen.index].tolist()) == [0, 1, 2, 3]  # one per camera, nothing else
    assert chosen.skipped_duplicates > 0


def test_quotas_per_store_and_camera() -> None:
    records = pool()
    chosen = select(records, Budget(100, per_store=30, per_camera=20), "balanced")
    assert len(chosen.index) == 60  # two stores x 30
    assert np.bincount(records.store[chosen.index]).max() <= 30
    assert np.bincount(records.camera[chosen.index]).max() <= 20


def test_balanced_favours_the_rare_class_and_keeps_a_background_share() -> None:
    records = pool(2000)
    random = select(records, Budget(100), "random", seed=1)
    balanced = select(records, Budget(100, background_share=0.1), "balanced", seed=1)
    rare = records.class_counts[:, 0] > 0
    assert rare[balanced.index].sum() > 2 * rare[random.index].sum()
    backgrounds = records.class_counts[balanced.index].sum(1) == 0
    assert backgrounds.sum() == 10 and balanced.reasons.count("background") == 10


def test_diversity_spreads_over_cameras_and_time() -> None:
    records = pool(400)
    chosen = select(records, Budget(40), "diversity")
    assert np.bincount(records.camera[chosen.index]).tolist() == [10, 10, 10, 10]
    per_camera_ts = records.ts[chosen.index][records.camera[chosen.index] == 0]
    assert per_camera_ts.max() - per_camera_ts.min() > 0.8 * 400


def test_uncertainty_measures() -> None:
    sure, torn = uncertainty_of(np.array([[0.98, 0.01, 0.01], [0.34, 0.33, 0.33]]), np.array([0.95, 0.95]))
    assert sure < 0.15 and torn > 0.95
    # a single-class model: only the detection score near the threshold is uncertain
    near, far = uncertainty_of(np.array([[1.0], [1.0]]), np.array([0.27, 0.95]), threshold=0.25)
    assert near > 0.9 and far < 0.1


def test_rarity_is_inverse_frequency() -> None:
    records = pool(10)
    records.class_counts[:] = 0
    records.class_counts[0] = [1, 0, 0]
    records.class_counts[1:] = [0, 0, 3]
    records.class_mass = records.class_counts.astype(float)
    score = rarity_of(records)
    assert score[0] == pytest.approx(1.0) and score[1] < 0.1


def test_a_term_that_cannot_tell_frames_apart_is_off_and_never_a_reason() -> None:
    """One class in the pool: rarity is 1.0 for every frame. It chose nothing, so no frame may say
    'rare class' (it used to say so for most), and the report says the term is off."""
    records = pool(600)
    records.class_counts[:, :2] = 0  # men only
    records.disagreement[:] = 0.0  # no track flips class
    records.count_risk[:] = 0.0  # no crossing in doubt (or a device that does not record them)
    chosen = select(records, Budget(60), "balanced", seed=2)
    assert set(chosen.terms_off) == {"rare class", "disagreement", "count risk"}
    assert "1 class in the pool" in chosen.terms_off["rare class"]
    assert set(chosen.reasons) <= {"uncertainty", "background"}
    balanced = select(records, Budget(60, background_share=0.0), "balanced", seed=2)
    with_boxes = np.nonzero(records.class_counts.sum(1) > 0)[0]
    most_uncertain = with_boxes[np.argsort(-records.uncertainty[with_boxes])[:60]]
    assert sorted(balanced.index.tolist()) == sorted(most_uncertain.tolist())  # only uncertainty is left


def test_a_frame_is_tagged_with_the_term_that_set_it_apart() -> None:
    records = pool(2000)
    chosen = select(records, Budget(100, background_share=0.0), "balanced", seed=1)
    assert chosen.terms_off == {}
    rare = records.class_counts[:, 0] > 0
    for row, reason in zip(chosen.index.tolist(), chosen.reasons, strict=True):
        if reason == "rare class":
            assert records.class_counts[row, :2].sum() > 0  # a child or a woman in it
        if reason == "disagreement":
            assert records.disagreement[row] == 1.0
        if reason == "count risk":
            assert records.count_risk[row] > 0
    assert "count risk" in chosen.reasons
    assert chosen.reasons.count("rare class") >= rare[chosen.index].sum() // 2


def test_count_aware_takes_the_frames_where_a_count_may_be_wrong_first() -> None:
    records = pool(1000)
    risky = np.nonzero(records.count_risk > 0)[0]
    chosen = select(records, Budget(len(risky) + 20, near_duplicate_bits=-1), "count-aware", seed=0)
    first = chosen.index[: len(risky)]
    assert sorted(first.tolist()) == sorted(risky.tolist())
    assert records.count_risk[first].tolist() == sorted(records.count_risk[first].tolist(), reverse=True)
    assert chosen.reasons == ["count risk"] * len(risky) + ["uncertainty"] * 20
    rest = chosen.index[len(risky) :]
    others = np.setdiff1d(np.arange(1000), risky)
    assert sorted(rest.tolist()) == sorted(others[np.argsort(-records.uncertainty[others])[:20]].tolist())


def test_rarity_counts_the_models_doubt_about_the_majority_class_but_not_a_class_it_never_gives() -> None:
    records = pool(3)
    records.class_counts[:] = [[0, 0, 2], [0, 0, 2], [0, 1, 1]]
    # frame 0: two men, sure; frame 1: two people the model calls men but half thinks women; the
    # child column is the same noise everywhere (a class no box of the pool was given)
    records.class_mass = np.array([[0.3, 0.1, 1.9], [0.3, 1.0, 1.0], [0.3, 1.0, 1.0]])
    score = rarity_of(records)
    assert score[0] < score[1] == pytest.approx(score[2])
