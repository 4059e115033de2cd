"""box_iou and gated assignment."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.tracking.matching import assign, box_iou


def test_box_iou_known_values():
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array(
        [
            [0.0, 0.0, 10.0, 10.0],  # identical
            [5.0, 0.0, 15.0, 10.0],  # half overlap: 50 / 150
            [2.0, 2.0, 4.0, 4.0],  # contained: 4 / 100
            [10.0, 0.0, 20.0, 10.0],  # touching edge
            [20.0, 20.0, 30.0, 30.0],  # disjoint
            [5.0, 5.0, 15.0, 15.0],  # corner: 25 / 175
        ]
    )
    iou = box_iou(a, b)
    assert iou.shape == (1, 6)
    np.testing.assert_allclose(iou[0], [1.0, 1 / 3, 0.04, 0.0, 0.0, 25 / 175])


def test_box_iou_is_pairwise_and_symmetric():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 100, (5, 2))
    a = np.concatenate([xy, xy + rng.uniform(5, 40, (5, 2))], axis=1)
    xy = rng.uniform(0, 100, (3, 2))
    b = np.concatenate([xy, xy + rng.uniform(5, 40, (3, 2))], axis=1)
    iou = box_iou(a, b)
    assert iou.shape == (5, 3)
    np.testing.assert_allclose(iou, box_iou(b, a).T)
    assert np.all((iou >= 0) & (iou <= 1))
    np.testing.assert_allclose(np.diag(box_iou(a, a)), 1.0)


def test_box_iou_with_no_boxes_has_the_right_shape():
    a = np.array([[0.0, 0.0, 1.0, 1.0]])
    assert box_iou(a, np.empty((0, 4))).shape == (1, 0)
    assert box_iou(np.empty((0, 4)), a).shape == (0, 1)


def test_box_iou_of_degenerate_boxes_is_zero_not_nan():
    a = np.array([[5.0, 5.0, 5.0, 5.0]])
    iou = box_iou(a, a)
    assert np.isfinite(iou).all() and iou[0, 0] == 0.0


def test_assign_picks_the_minimum_cost_matching():
    cost = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.6]])
    matches, rows, cols = assign(cost, 1.0)
    assert sorted(map(tuple, matches.tolist())) == [(0, 1), (1, 0)]
    assert rows.tolist() == [] and cols.tolist() == [2]


def test_assign_gating_leaves_a_pair_over_max_cost_unmatched_even_if_it_is_the_only_option():
    matches, rows, cols = assign(np.array([[0.95]]), 0.9)
    assert matches.shape == (0, 2)
    assert rows.tolist() == [0] and cols.tolist() == [0]


def test_assign_keeps_a_pair_exactly_at_max_cost():
    matches, rows, cols = assign(np.array([[0.9]]), 0.9)
    assert matches.tolist() == [[0, 0]]
    assert rows.size == 0 and cols.size == 0


def test_assign_never_trades_two_allowed_pairs_for_a_forbidden_one():
    # Ungated, the cheapest total is (0,0)+(1,1) = 1.15, but (1,1) is over the gate;
    # the gated solver must pick (0,1)+(1,0) = 1.2 and match both.
    cost = np.array([[0.1, 0.6], [0.6, 1.05]])
    matches, rows, cols = assign(cost, 1.0)
    assert sorted(map(tuple, matches.tolist())) == [(0, 1), (1, 0)]
    assert rows.size == 0 and cols.size == 0


def test_assign_with_an_empty_side():
    matches, rows, cols = assign(np.empty((0, 3)), 0.5)
    assert matches.shape == (0, 2) and rows.tolist() == [] and cols.tolist() == [0, 1, 2]
    matches, rows, cols = assign(np.empty((2, 0)), 0.5)
    assert matches.shape == (0, 2) and rows.tolist() == [0, 1] and cols.tolist() == []


@pytest.mark.parametrize("shape", [(3, 5), (5, 3)])
def test_assign_returns_a_partition_of_rows_and_columns(shape):
    rng = np.random.default_rng(11)
    cost = rng.uniform(0, 1, shape)
    matches, rows, cols = assign(cost, 0.6)
    assert np.all(cost[matches[:, 0], matches[:, 1]] <= 0.6)
    assert sorted(matches[:, 0].tolist() + rows.tolist()) == list(range(shape[0]))
    assert sorted(matches[:, 1].tolist() + cols.tolist()) == list(range(shape[1]))


def test_assign_finds_the_optimum_of_rectangular_problems():
    """Same total cost as SciPy's solver, on tall and wide matrices with gated pairs."""
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(5)
    for rows, cols in [(1, 1), (3, 7), (7, 3), (12, 12), (20, 9)]:
        cost = rng.uniform(0, 1.6, (rows, cols))
        matches, unmatched_rows, unmatched_cols = assign(cost, 1.0)
        gated = np.where(cost <= 1.0, cost, 1e5)
        r, c = linear_sum_assignment(gated)
        best = gated[r, c][gated[r, c] <= 1.0]
        assert len(matches) == len(best)
        np.testing.assert_allclose(cost[matches[:, 0], matches[:, 1]].sum(), best.sum())
        assert len(unmatched_rows) == rows - len(matches)
        assert len(unmatched_cols) == cols - len(matches)
