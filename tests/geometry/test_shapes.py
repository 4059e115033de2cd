import numpy as np
import pytest

from vigil.geometry import Line, Zone, points_in_polygon, rasterize_polygon

SQUARE = [(10, 10), (50, 10), (50, 40), (10, 40)]


def test_normalised_zone_is_detected_and_resolved_to_pixels():
    z = Zone("z", [(0.1, 0.2), (0.5, 0.2), (0.5, 1.0)])
    assert z.normalized is True
    p = z.to_pixels(200, 100)
    assert p.normalized is False
    assert p.points == ((20.0, 20.0), (100.0, 20.0), (100.0, 100.0))
    assert p.frame_size == (200, 100)


def test_pixel_zone_stays_put_and_explicit_flag_wins():
    z = Zone("z", SQUARE)
    assert z.normalized is False
    assert z.to_pixels(640, 480).points == z.points
    tiny = Zone("tiny", [(0, 0), (1, 0), (1, 1)], normalized=False)
    assert tiny.to_pixels(640, 480).points == ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0))


def test_closed_ring_is_accepted():
    z = Zone("z", [*SQUARE, SQUARE[0]])
    assert len(z.points) == 4


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([(0, 0), (10, 10)], "polygon needs at least 3 points, got 2"),
        ([(0, 0), (10, 10), (0, 10), (10, 0)], "polygon is self-intersecting at (5, 5)"),
        ([(0, 0), (5, 5), (10, 10)], "polygon has zero area (points are collinear)"),
        ([(0, 0), (10, "a"), (0, 10)], "point 1 must be a pair [x, y], got (10, 'a')"),
        ([(0, 0), (10, float("nan")), (0, 10)], "point 1 must be finite"),
    ],
)
def test_invalid_zone_messages(points, message):
    with pytest.raises(ValueError) as exc:
        Zone("z", points)
    assert str(exc.value).startswith(message)
    assert "\n" not in str(exc.value)


def test_invalid_line_messages():
    with pytest.raises(ValueError, match="^line has zero length: start and end are both"):
        Line("l", (5, 5), (5, 5))
    with pytest.raises(ValueError, match=r"^line end must be a pair \[x, y\]"):
        Line("l", (5, 5), (5, 5, 5))


def test_frame_size_must_be_positive():
    with pytest.raises(ValueError, match="frame size must be positive, got 0x10"):
        Zone("z", SQUARE).to_pixels(0, 10)


def test_rasterized_rectangle_is_exact():
    mask = rasterize_polygon(np.array(SQUARE, float), 100, 60)
    assert mask.shape == (60, 100)
    assert mask.sum() == 40 * 30
    ys, xs = np.nonzero(mask)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (10, 49, 10, 39)


def test_contains_mask_matches_exact_test_away_from_the_border():
    z = Zone("tri", [(0.1, 0.1), (0.9, 0.2), (0.4, 0.95)]).to_pixels(640, 480)
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 1, (20000, 2)) * [640, 480]
    fast = z.contains(pts)
    exact = points_in_polygon(pts, z.vertices)
    # the raster answers for the pixel a point falls in: only border pixels may differ
    assert (fast != exact).mean() < 0.005
    poly = z.polygon.boundary
    from shapely.geometry import Point

    for i in np.flatnonzero(fast != exact):
        assert poly.distance(Point(pts[i])) < 1.5


def test_contains_specific_points_and_clipping():
    z = Zone("z", [(0, 0.5), (1, 0.5), (1, 1), (0, 1)]).to_pixels(100, 100)  # bottom half
    pts = np.array([[50, 75], [50, 25], [50, 100], [-5, 120], [105, 10], [np.nan, 80]])
    assert z.contains(pts).tolist() == [True, False, True, True, False, False]
    assert z.contains(np.empty((0, 2))).shape == (0,)


def test_contains_without_frame_size_is_exact_and_normalised_needs_pixels():
    z = Zone("z", SQUARE)
    assert z.contains(np.array([[30, 20], [5, 5], [49.9, 39.9]])).tolist() == [True, False, True]
    with pytest.raises(ValueError, match="call to_pixels"):
        Zone("n", [(0, 0), (1, 0), (1, 1)]).contains(np.zeros((1, 2)))


def test_mask_is_cached_and_read_only():
    z = Zone("z", SQUARE).to_pixels(100, 60)
    assert z.mask() is z.mask()
    assert not z.mask().flags.writeable


def test_line_direction_convention():
    # drawn left to right: moving down the image is "in" (+1), up is "out" (-1)
    line = Line("l", (0, 100), (200, 100))
    assert line.side(np.array([[50, 150], [50, 50], [50, 100]])).tolist() == [1, -1, 1]
    prev = np.array([[50, 80], [50, 120], [50, 80], [250, 80], [50, 90]])
    curr = np.array([[50, 120], [50, 80], [60, 95], [250, 120], [50, 100]])
    crossed, direction = line.crossings(prev, curr)
    assert crossed.tolist() == [True, True, False, False, True]
    assert direction.tolist() == [1, -1, 0, 0, 1]


def test_line_invert_and_diagonal():
    line = Line("l", (0, 100), (200, 100), invert=True)
    _, direction = line.crossings(np.array([[50, 80]]), np.array([[50, 120]]))
    assert direction.tolist() == [-1]
    diag = Line("d", (0, 0), (100, 100))  # right-hand side of start->end is below-left
    crossed, direction = diag.crossings(np.array([[60, 40]]), np.array([[40, 60]]))
    assert crossed.tolist() == [True] and direction.tolist() == [1]


def test_normalised_line_resolution_and_guard():
    line = Line("l", (0.0, 0.5), (1.0, 0.5))
    assert line.normalized
    with pytest.raises(ValueError, match="call to_pixels"):
        line.side(np.zeros((1, 2)))
    p = line.to_pixels(640, 480)
    assert (p.start, p.end, p.normalized) == ((0.0, 240.0), (640.0, 240.0), False)
    assert p.length == 640.0


def test_crossings_with_nan_never_cross():
    line = Line("l", (0, 100), (200, 100))
    crossed, _ = line.crossings(np.array([[np.nan, 80]]), np.array([[50, 120]]))
    assert crossed.tolist() == [False]
