import numpy as np
import pytest

from footfall.common.geometry import Anchor, Line, Point


@pytest.mark.parametrize(
    ("line", "point", "sign"),
    [
        (Line(Point(240, 0), Point(240, 360)), (300, 100), 1),  # top→bottom: right of the line is "in"
        (Line(Point(240, 0), Point(240, 360)), (100, 100), -1),
        (Line(Point(0, 200), Point(480, 200)), (100, 100), 1),  # left→right: above is "in"
        (Line(Point(0, 200), Point(480, 200)), (100, 300), -1),
        (Line(Point(240, 0), Point(240, 360), invert=True), (300, 100), -1),
    ],
)
def test_signed_distance_side_convention(line: Line, point: tuple[float, float], sign: int) -> None:
    assert np.sign(line.signed_distance(np.array([point], float)))[0] == sign


def test_signed_distance_is_in_pixels() -> None:
    line = Line(Point(0, 0), Point(0, 100))
    assert line.signed_distance(np.array([[7.0, 50.0]]))[0] == pytest.approx(7.0)


@pytest.mark.parametrize(
    ("a", "b", "crossed"),
    [
        (Point(230, 100), Point(250, 100), True),
        (Point(230, 360), Point(250, 360), True),  # through the segment's very end
        (Point(230, 400), Point(250, 400), False),  # passes below the segment's end
        (Point(230, 361), Point(250, 361), False),  # one pixel past its end is past it
        (Point(230, 100), Point(235, 100), False),  # does not reach the line
    ],
)
def test_segment_crossed(a: Point, b: Point, crossed: bool) -> None:
    assert Line(Point(240, 0), Point(240, 360)).segment_crossed(a, b) is crossed


def test_degenerate_line_is_refused() -> None:
    with pytest.raises(ValueError, match="must differ"):
        Line(Point(1, 1), Point(1, 1))


def test_anchor_points() -> None:
    boxes = np.array([[10, 20, 30, 80]], float)
    assert Anchor.BOTTOM_CENTER.points(boxes).tolist() == [[20, 80]]
    assert Anchor.CENTER.points(boxes).tolist() == [[20, 50]]
    assert Anchor.TOP_CENTER.points(boxes).tolist() == [[20, 20]]


@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize("end", [(0, 10), (10, 0), (-7, 3), (5, -12)])
def test_in_normal_points_to_the_in_side(end: tuple[float, float], invert: bool) -> None:
    line = Line(Point(0, 0), Point(*end), invert)
    nx, ny = line.in_normal
    assert np.hypot(nx, ny) == pytest.approx(1.0)
    mid = np.array([[end[0] / 2 + 5 * nx, end[1] / 2 + 5 * ny]])
    assert line.signed_distance(mid)[0] == pytest.approx(5.0)
