"""Colour-histogram appearance descriptors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vigil.tracking import appearance

RED, BLUE, GREEN = (0, 0, 255), (255, 0, 0), (0, 200, 0)


def canvas(h: int = 240, w: int = 320) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 60, (h, w, 3), dtype=np.uint8)  # dark, low-saturation noise


def paint(image: np.ndarray, box, colour) -> None:
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = colour


def test_descriptor_shape_and_unit_norm():
    img = canvas()
    paint(img, (20, 20, 60, 100), RED)
    d = appearance.describe(img, np.array([[20, 20, 60, 100], [100, 50, 160, 200]], np.float32))
    assert d.shape == (2, appearance.DESCRIPTOR_SIZE) == (2, 128)
    assert d.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, rtol=1e-5)


def test_same_colour_boxes_are_close_and_different_colours_are_far():
    img = canvas()
    paint(img, (10, 10, 50, 90), RED)
    paint(img, (120, 40, 170, 140), RED)  # another red object, other size and place
    paint(img, (220, 20, 260, 100), BLUE)
    d = appearance.describe(
        img, np.array([[10, 10, 50, 90], [120, 40, 170, 140], [220, 20, 260, 100]])
    )
    dist = appearance.distance(d, d)
    assert dist.shape == (3, 3)
    np.testing.assert_allclose(np.diag(dist), 0.0, atol=1e-5)
    assert dist[0, 1] < 0.01
    assert dist[0, 2] > 0.99 and dist[1, 2] > 0.99
    np.testing.assert_allclose(dist, dist.T, atol=1e-6)


def test_upper_and_lower_halves_are_told_apart():
    """Red shirt / blue trousers differs from blue shirt / red trousers."""
    img = canvas()
    paint(img, (10, 10, 50, 50), RED)
    paint(img, (10, 50, 50, 90), BLUE)
    paint(img, (100, 10, 140, 50), BLUE)
    paint(img, (100, 50, 140, 90), RED)
    d = appearance.describe(img, np.array([[10, 10, 50, 90], [100, 10, 140, 90]]))
    assert appearance.distance(d[:1], d[1:])[0, 0] > 0.99


def test_the_box_edges_are_ignored():
    """Only the middle 60 % of the width counts: a different-coloured border does not matter."""
    img = canvas()
    paint(img, (10, 10, 60, 90), GREEN)
    paint(img, (18, 10, 52, 90), RED)  # 8 px green either side = 16 % of the width
    paint(img, (110, 10, 160, 90), RED)
    d = appearance.describe(img, np.array([[10, 10, 60, 90], [110, 10, 160, 90]]))
    assert appearance.distance(d[:1], d[1:])[0, 0] < 0.01


def test_boxes_partly_or_fully_outside_the_image_do_not_crash():
    img = canvas(240, 320)
    paint(img, (0, 0, 40, 60), RED)
    paint(img, (280, 180, 320, 240), RED)
    boxes = np.array(
        [
            [-40, -30, 40, 60],  # crosses the top-left corner
            [280, 180, 380, 300],  # crosses the bottom-right corner
            [400, 300, 500, 400],  # entirely outside
            [-100, -100, -10, -10],  # entirely outside, negative
        ],
        np.float32,
    )
    d = appearance.describe(img, boxes)
    assert np.isfinite(d).all()
    np.testing.assert_allclose(np.linalg.norm(d[:2], axis=1), 1.0, rtol=1e-5)
    assert not d[2:].any()
    # the visible parts are red in both: same look
    assert appearance.distance(d[:1], d[1:2])[0, 0] < 0.05


def test_tiny_boxes_give_zero_descriptors():
    img = canvas()
    paint(img, (100, 100, 130, 130), RED)
    boxes = np.array(
        [
            [100, 100, 103, 130],  # 3 px wide: under 2 px after trimming the edges
            [100, 100, 130, 103],  # 3 px high
            [110, 110, 110, 110],  # empty
        ],
        np.float32,
    )
    d = appearance.describe(img, boxes)
    assert d.shape == (3, 128)
    assert not d.any()


def test_no_boxes():
    d = appearance.describe(canvas(), np.empty((0, 4), np.float32))
    assert d.shape == (0, 128)


def test_distance_shapes_and_range():
    img = canvas()
    paint(img, (10, 10, 50, 90), RED)
    d = appearance.describe(img, np.array([[10, 10, 50, 90], [100, 100, 160, 200]]))
    assert appearance.distance(d, np.empty((0, 128), np.float32)).shape == (2, 0)
    assert appearance.distance(np.empty((0, 128), np.float32), d).shape == (0, 2)
    dist = appearance.distance(d, d)
    assert np.all((dist >= 0) & (dist <= 1))
    # a zero descriptor is at the maximal distance from everything
    zero = np.zeros((1, 128), np.float32)
    np.testing.assert_allclose(appearance.distance(zero, d), 1.0)


@pytest.mark.parametrize("height, width", [(576, 768), (101, 77), (64, 65)])
def test_the_pixels_around_each_box_give_what_the_whole_frame_gives(height, width):
    """Only the neighbourhood of each box is halved and converted: for any frame size and any
    box, inside, across an edge or a corner, the histograms equal those of the whole frame."""
    rng = np.random.default_rng(height)
    img = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    corners = rng.uniform(-30, max(height, width) + 30, (60, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(4, 120, (60, 2))], axis=1)
    boxes = boxes.astype(np.float32)
    hsv = cv2.cvtColor(cv2.pyrDown(img), cv2.COLOR_BGR2HSV)
    h, w = hsv.shape[:2]
    scaled = boxes * np.array([w / width, h / height] * 2, np.float32)
    margin = 0.2 * (scaled[:, 2] - scaled[:, 0])
    scaled[:, 0] += margin
    scaled[:, 2] -= margin
    scaled = np.clip(np.round(scaled).astype(int), 0, [w, h, w, h])
    for (x1, y1, x2, y2), descriptor in zip(scaled, appearance.describe(img, boxes)):
        if x2 - x1 < 2 or y2 - y1 < 4:
            assert not descriptor.any()
            continue
        mid = y1 + (y2 - y1) // 2
        hists = [
            cv2.calcHist([part], [0, 1], None, [16, 4], [0, 180, 0, 256]).ravel()
            for part in (hsv[y1:mid, x1:x2], hsv[mid:y2, x1:x2])
        ]
        expected = np.sqrt(np.concatenate(hists))
        np.testing.assert_allclose(descriptor, expected / np.linalg.norm(expected), atol=1e-6)
