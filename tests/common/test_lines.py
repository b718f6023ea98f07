"""Where a line lies in the picture: outside it is an error, too short or along an edge a warning."""

from __future__ import annotations

import subprocess

import pytest

from footfall.common.lines import LineConfig, placement_problems
from tests.conftest import VTEST, footfall_cmd


def line(x1: float, y1: float, x2: float, y2: float) -> LineConfig:
    return LineConfig(name="l", points=((x1, y1), (x2, y2)))


@pytest.mark.parametrize(
    ("points", "errors", "warnings"),
    [
        ((240, 0, 240, 360), 0, 0),  # across the whole picture, edge to edge: fine
        ((0, 200, 480, 200), 0, 0),
        ((240, 0, 240, 400), 1, 0),  # beyond the bottom
        ((100, 100, 110, 100), 0, 1),  # 10 px
        ((475, 10, 475, 350), 0, 1),  # along the right edge
        ((10, 2, 400, 6), 0, 1),  # along the top
        ((470, 0, 480, 5), 0, 2),  # short and in a corner
    ],
)
def test_placement(points: tuple[float, float, float, float], errors: int, warnings: int) -> None:
    e, w = placement_problems(line(*points), 480, 360)
    assert (len(e), len(w)) == (errors, warnings), (e, w)


def test_validate_config_names_the_camera_and_line_and_refuses_a_line_outside_the_picture() -> None:
    ok = subprocess.run(
        footfall_cmd("edge", "run", "--source", str(VTEST), "--line", "edge=476,10,476,350", "--validate-config"),
        capture_output=True, text=True,
    )  # fmt: skip
    assert ok.returncode == 0 and "warning: cameras[cam0].line edge runs along the picture's edge" in ok.stderr
    bad = subprocess.run(
        footfall_cmd("edge", "run", "--source", str(VTEST), "--line", "door=240,0,240,900", "--validate-config"),
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode != 0 and "outside the 480x360 picture" in bad.stderr
