from __future__ import annotations

import numpy as np
import pytest

from footfall.edge.tracking.stitching import TrackletStitcher
from footfall.edge.types import Tracks
from tests.helpers import tracks


def run(
    frames: list[list[tuple[int, float, float]]], frame_hw: tuple[int, int] | None = None, **kw: object
) -> list[list[int]]:
    s = TrackletStitcher(**kw)  # type: ignore[arg-type]
    return [s.update(tracks(*f), frame_hw).track_id.tolist() for f in frames]


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


@pytest.mark.parametrize(
    ("gap", "same_person"),
    [
        (2, True),  # flicker at the border: still the person who was there
        (5, True),
        (6, False),  # gone for longer than exit_gap_frames: whoever comes in is somebody else
        (30, False),
    ],
)
def test_track_lost_at_the_edge_of_the_picture_has_left(gap: int, same_person: bool) -> None:
    # walks right and leaves the 480 px wide picture; later someone comes in at the same edge
    walk = [[(1, 440 + 5 * i, 200)] for i in range(6)]  # last box (20 px wide) ends at x = 475
    back = [[(2, 465, 200)]]
    out = run([*walk, *([[]] * gap), *back], frame_hw=(360, 480), exit_gap_frames=5)
    assert (out[-1][0] == out[0][0]) is same_person


def test_without_the_picture_size_the_exit_rule_is_off() -> None:
    walk = [[(1, 440 + 5 * i, 200)] for i in range(6)]
    out = run([*walk, *([[]] * 10), [(2, 468, 200)]], radius=1.5)
    assert out[-1][0] == out[0][0]


def test_occlusion_inside_the_picture_is_not_an_exit() -> None:
    walk = [[(1, 200 + 5 * i, 200)] for i in range(6)]
    out = run([*walk, *([[]] * 10), [(2, 280, 200)]], frame_hw=(360, 480))
    assert out[-1][0] == out[0][0]


def test_person_close_to_the_camera_with_the_head_cut_off_has_not_left() -> None:
    # feet at y = 200 of 360 with a 250 px tall box: the top is cut, the person is still in view
    s = TrackletStitcher(radius=0.5, exit_gap_frames=5)
    tall = [20.0, -50.0, 120.0, 200.0]

    def frame(tid: int) -> Tracks:
        return Tracks(np.array([tall]), np.array([tid]), np.array([0.9]), np.array([0]), np.array([0]))

    first = s.update(frame(1), (360, 480)).track_id[0]
    for _ in range(10):
        s.update(Tracks.empty(), (360, 480))
    assert s.update(frame(2), (360, 480)).track_id[0] == first
