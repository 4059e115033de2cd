"""Region planning: crops around interest, merged, or one full-frame pass."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.motion.regions import expand_to_min_size, merge_overlapping, plan_regions

FRAME = (1920, 1080)
INPUT = (416, 256)  # a 1920×1080 frame letterboxed into a 416×416 model input


def inside(boxes: np.ndarray, width: int, height: int) -> bool:
    return bool(
        np.all(boxes[:, 0] >= 0)
        and np.all(boxes[:, 1] >= 0)
        and np.all(boxes[:, 2] <= width)
        and np.all(boxes[:, 3] <= height)
    )


# -- expand_to_min_size -----------------------------------------------------------------------


def test_expand_grows_a_small_box_about_its_centre():
    out = expand_to_min_size(np.array([[800.0, 500.0, 820.0, 540.0]]), 416, 416, *FRAME)
    np.testing.assert_allclose(out, [[602, 312, 1018, 728]])
    assert out.dtype == np.float32


def test_expand_keeps_a_box_already_big_enough():
    out = expand_to_min_size(np.array([[100.0, 100.0, 900.0, 600.0]]), 416, 416, *FRAME)
    np.testing.assert_allclose(out, [[100, 100, 900, 600]])


@pytest.mark.parametrize(
    "box, expected",
    [
        ([0, 0, 20, 20], [0, 0, 416, 416]),  # top-left corner
        ([1900, 1060, 1920, 1080], [1504, 664, 1920, 1080]),  # bottom-right corner
        ([1800, 10, 1910, 30], [1504, 0, 1920, 416]),  # right edge
        ([100, 100, 900, 200], [100, 0, 900, 416]),  # wide box at the top
    ],
)
def test_expand_shifts_boxes_near_the_edges_back_into_the_frame(box, expected):
    out = expand_to_min_size(np.array([box], np.float64), 416, 416, *FRAME)
    np.testing.assert_allclose(out, [expected])


def test_expand_in_a_frame_smaller_than_the_minimum_gives_the_whole_frame():
    out = expand_to_min_size(np.array([[100.0, 100.0, 120.0, 140.0]]), 416, 416, 300, 200)
    np.testing.assert_allclose(out, [[0, 0, 300, 200]])


def test_expand_of_no_boxes():
    assert expand_to_min_size(np.empty((0, 4)), 416, 416, *FRAME).shape == (0, 4)


def test_expand_keeps_many_random_boxes_inside_the_frame():
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, [1900, 1060], (200, 2))
    wh = rng.uniform(1, 900, (200, 2))
    boxes = np.concatenate([xy, np.minimum(xy + wh, FRAME)], axis=1)
    out = expand_to_min_size(boxes, 416, 416, *FRAME)
    assert inside(out, *FRAME)
    size = out[:, 2:] - out[:, :2]
    assert np.all(size >= 416 - 1e-3)


def test_expand_keeps_boxes_larger_than_the_frame_inside_it():
    out = expand_to_min_size(np.array([[605.0, -25.0, 1245.0, 1275.0]]), 416, 416, *FRAME)
    assert inside(out, *FRAME)


# -- merge_overlapping ------------------------------------------------------------------------


def test_merge_joins_chains_of_overlapping_boxes():
    boxes = np.array(
        [[0, 0, 10, 10], [8, 0, 20, 10], [18, 5, 30, 15], [100, 100, 110, 110]], np.float32
    )
    out = merge_overlapping(boxes)
    np.testing.assert_allclose(out, [[0, 0, 30, 15], [100, 100, 110, 110]])


def test_merge_chain_given_in_any_order():
    boxes = np.array([[18, 5, 30, 15], [100, 100, 110, 110], [0, 0, 10, 10], [8, 0, 20, 10]])
    out = merge_overlapping(boxes)
    out = out[np.argsort(out[:, 0])]
    np.testing.assert_allclose(out, [[0, 0, 30, 15], [100, 100, 110, 110]])


def test_merge_repeats_until_the_union_overlaps_nothing():
    # A and B merge into a box that then overlaps C, which overlapped neither alone
    boxes = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [5, 20, 25, 30], [0, 5, 30, 25]], np.float32)
    np.testing.assert_allclose(merge_overlapping(boxes), [[0, 0, 30, 30]])


def test_merge_leaves_touching_and_disjoint_boxes_alone():
    boxes = np.array([[0, 0, 10, 10], [10, 0, 20, 10], [0, 10, 10, 20]], np.float32)
    np.testing.assert_allclose(merge_overlapping(boxes), boxes)


def test_merge_of_zero_or_one_box():
    assert merge_overlapping(np.empty((0, 4))).shape == (0, 4)
    np.testing.assert_allclose(merge_overlapping(np.array([[1, 2, 3, 4]])), [[1, 2, 3, 4]])


# -- plan_regions -----------------------------------------------------------------------------


def test_nothing_of_interest_plans_nothing():
    out = plan_regions(np.empty((0, 4), np.float32), FRAME, INPUT, 4)
    assert out.shape == (0, 4)


def test_elongated_interest_gives_one_crop_at_least_the_input_size():
    strip = np.array([[100.0, 500.0, 1700.0, 540.0]])  # a wide band of motion
    out = plan_regions(strip, FRAME, INPUT, 4)
    np.testing.assert_allclose(out, [[100, 392, 1700, 648]])  # centred, INPUT[1] high
    assert inside(out, *FRAME)
    assert out[0, 2] - out[0, 0] >= INPUT[0] and out[0, 3] - out[0, 1] >= INPUT[1]


def test_compact_interest_gets_the_full_frame_which_costs_the_same_as_a_crop():
    """A crop is at least the letterboxed frame's input shape, so one crop costs as much as
    the whole frame, which also re-checks everything else: the whole frame wins the tie."""
    small = np.array([[800.0, 500.0, 820.0, 540.0]])
    np.testing.assert_allclose(plan_regions(small, FRAME, INPUT, 4), [[0, 0, 1920, 1080]])


def test_two_separate_objects_cost_two_passes_so_the_full_frame_wins():
    apart = np.array([[100.0, 100.0, 120.0, 140.0], [1700.0, 900.0, 1720.0, 940.0]])
    np.testing.assert_allclose(plan_regions(apart, FRAME, INPUT, 4), [[0, 0, 1920, 1080]])


def test_interest_spread_over_many_places_gives_the_full_frame():
    spread = np.array(
        [[50, 50, 70, 90], [1800, 60, 1820, 100], [900, 900, 920, 940], [100, 1000, 120, 1040]],
        np.float32,
    )
    np.testing.assert_allclose(plan_regions(spread, FRAME, INPUT, 4), [[0, 0, 1920, 1080]])


def strips(count: int) -> np.ndarray:
    return np.array([[0, 100 + 600 * i, 4000, 120 + 600 * i] for i in range(count)], np.float32)


def test_more_crops_than_max_regions_gives_the_full_frame():
    # five cheap separate crops in a 4000×3000 frame: allowed at max_regions=5, not at 4
    five = plan_regions(strips(5), (4000, 3000), INPUT, 5)
    assert five.shape == (5, 4)
    assert inside(five, 4000, 3000)
    np.testing.assert_allclose(five[:, 3] - five[:, 1], INPUT[1])
    np.testing.assert_allclose(
        plan_regions(strips(5), (4000, 3000), INPUT, 4), [[0, 0, 4000, 3000]]
    )


def test_crops_that_grow_into_each_other_are_merged():
    two = np.array([[100, 500, 1700, 520], [100, 700, 1700, 720]], np.float32)
    out = plan_regions(two, FRAME, INPUT, 4)
    assert out.shape == (1, 4)
    assert out[0, 1] <= 500 and out[0, 3] >= 720
    assert inside(out, *FRAME)
