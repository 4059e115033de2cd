"""`GroundPlane` (pixels → metres) and calibrated zones."""

import cv2
import numpy as np
import pytest

from vigil.geometry import GroundPlane, GroundSpeed, Zone

IMAGE = ((100.0, 700.0), (1180.0, 700.0), (760.0, 200.0), (520.0, 200.0))  # a road, receding
GROUND = ((0.0, 0.0), (10.0, 0.0), (10.0, 40.0), (0.0, 40.0))  # 10 m wide, 40 m long


def test_corners_map_exactly_and_inner_points_agree_with_opencv():
    plane = GroundPlane(IMAGE, GROUND)
    assert np.allclose(plane.to_metres(np.asarray(IMAGE)), GROUND, atol=1e-9)
    reference = cv2.getPerspectiveTransform(np.float32(IMAGE), np.float32(GROUND))
    points = np.random.default_rng(3).uniform([150, 250], [1100, 690], size=(200, 2))
    expected = cv2.perspectiveTransform(points[None].astype(np.float64), reference)[0]
    assert np.allclose(plane.to_metres(points), expected, atol=1e-6)


def test_perspective_far_pixels_are_longer_distances():
    plane = GroundPlane(IMAGE, GROUND)
    near, far = plane.to_metres([(640, 690), (640, 680), (640, 210), (640, 200)]).reshape(2, 2, 2)
    assert np.linalg.norm(far[1] - far[0]) > 5 * np.linalg.norm(near[1] - near[0])


def test_beyond_the_horizon_and_nan_points_are_nan():
    plane = GroundPlane(IMAGE, GROUND)
    out = plane.to_metres([(640, 20), (np.nan, 300)])  # far above the vanishing point
    assert np.isnan(out).all()


@pytest.mark.parametrize(
    ("image", "ground", "message"),
    [
        (IMAGE[:3], GROUND[:3], "needs 4 image points"),
        (IMAGE, ((0, 0), (5, 0), (10, 0), (0, 40)), "ground points are in a line"),
        (((0, 0), (5, 5), (10, 10), (0, 40)), GROUND, "image points are in a line"),
    ],
)
def test_bad_calibrations_are_refused(image, ground, message):
    with pytest.raises(ValueError, match=message):
        GroundPlane(image, ground)


def test_zone_ground_survives_to_pixels_and_gives_the_plane():
    normalised = tuple((x / 1280, y / 720) for x, y in IMAGE)
    zone = Zone("road", normalised, ground=GROUND)
    with pytest.raises(ValueError, match="normalised"):
        zone.ground_plane()
    pixels = zone.to_pixels(1280, 720)
    plane = pixels.ground_plane()
    assert plane is not None and pixels.ground == GROUND
    assert np.allclose(plane.to_metres(np.asarray(IMAGE)), GROUND, atol=1e-6)
    assert Zone("square", IMAGE).ground_plane() is None


def test_a_calibrated_zone_has_four_points():
    five = (IMAGE[0], (640.0, 720.0), *IMAGE[1:])
    with pytest.raises(ValueError, match="4 points and 4 ground points, got 5 and 4"):
        Zone("road", five, ground=GROUND)


def test_ground_speed_in_kmh():
    plane = GroundPlane(IMAGE, GROUND)
    speed = GroundSpeed(plane, window=1.0)
    inverse = np.linalg.inv(plane.matrix)
    out = np.nan
    for i in range(26):  # 25 fps, 15 m/s = 54 km/h along the road
        world = np.array([5.0, 2.0 + 15.0 * i / 25, 1.0])
        pixel = inverse @ world
        out = speed.update(np.array([7]), (pixel[:2] / pixel[2])[None], i / 25)[0]
    assert out == pytest.approx(54.0, rel=1e-6)
