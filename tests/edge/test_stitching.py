from __future__ import annotations

import pytest

from edge.tracking.stitching import TrackletStitcher
from tests.helpers import tracks


def run(frames: list[list[tuple[int, float, float]]], **kw: object) -> list[list[int]]:
    s = TrackletStitcher(**kw)  # type: ignore[arg-type]
    return [s.update(tracks(*f)).track_id.tolist() for f in frames]


def test_fragment_after_occlusion_keeps_the_identity() -> None:
    walk = [[(1, 100 + 5 * i, 200)] for i in range(6)]
    gap = [[] for _ in range(5)]  # hidden behind a post for five frames
    back = [[(9, 100 + 5 * i, 200)] for i in range(11, 14)]  # reappears where it was heading
    out = run(walk + gap + back)
    assert {i for f in out for i in f} == {out[0][0]}


@pytest.mark.parametrize("where", [400.0, 20.0])
def test_far_away_newcomer_is_a_new_person(where: float) -> None:
    walk = [[(1, 100 + 5 * i, 200)] for i in range(6)]
    out = run([*walk, [], [(9, where, 200)]])
    assert out[-1][0] != out[0][0]


def test_tracker_refinding_its_own_track_is_not_duplicated() -> None:
    # id 1 vanishes, a new id 2 takes its identity, then the tracker brings id 1 back as well
    frames = [[(1, 100, 200)], [(1, 105, 200)], [], [(2, 112, 200)], [(2, 117, 200), (1, 300, 100)]]
    out = run(frames)
    assert len(set(out[-1])) == 2, "two people on screen never share an id"


def test_state_is_bounded() -> None:
    s = TrackletStitcher(max_gap_frames=10)
    for i in range(500):
        s.update(tracks((i, float(i % 400), 100.0)))
    assert len(s._lost) <= 11 and len(s._by_tracker_id) <= 12
