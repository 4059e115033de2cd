"""BoxKalman: constant-velocity prediction, measurement update, batching."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.tracking.kalman import BoxKalman, cxcywh_to_xyxy, xyxy_to_cxcywh


def test_box_conversions_known_values_and_round_trip():
    xyxy = np.array([[10.0, 20.0, 50.0, 100.0], [0.0, 0.0, 1.0, 3.0]])
    cxcywh = xyxy_to_cxcywh(xyxy)
    np.testing.assert_allclose(cxcywh, [[30.0, 60.0, 40.0, 80.0], [0.5, 1.5, 1.0, 3.0]])
    np.testing.assert_allclose(cxcywh_to_xyxy(cxcywh), xyxy)


def test_initiate_starts_at_the_measurement_with_zero_velocity_and_size_scaled_noise():
    kf = BoxKalman()
    mean, cov = kf.initiate(np.array([[100.0, 50.0, 40.0, 80.0]]))
    assert mean.shape == (1, 8) and cov.shape == (1, 8, 8)
    np.testing.assert_allclose(mean[0], [100, 50, 40, 80, 0, 0, 0, 0])
    # std: position 2 * w/20 (x, w) and 2 * h/20 (y, h); velocity 10 * size/160
    expected_std = [4.0, 8.0, 4.0, 8.0, 2.5, 5.0, 2.5, 5.0]
    np.testing.assert_allclose(np.diag(cov[0]), np.square(expected_std))
    assert np.count_nonzero(cov[0] - np.diag(np.diag(cov[0]))) == 0


def test_predict_moves_a_constant_velocity_box_and_grows_uncertainty():
    kf = BoxKalman()
    mean, cov = kf.initiate(np.array([[100.0, 50.0, 40.0, 80.0]]))
    mean[0, 4:] = [3.0, -2.0, 0.0, 0.0]
    m1, c1 = kf.predict(mean, cov)
    np.testing.assert_allclose(m1[0], [103, 48, 40, 80, 3, -2, 0, 0])
    m5 = mean
    c5 = cov
    for _ in range(5):
        m5, c5 = kf.predict(m5, c5)
    np.testing.assert_allclose(m5[0, :4], [115, 40, 40, 80])
    assert np.all(np.diag(c1[0]) > np.diag(cov[0]))
    assert np.all(np.diag(c5[0]) > np.diag(c1[0]))
    # the input arrays are not modified in place
    np.testing.assert_allclose(mean[0, :2], [100, 50])


def test_predict_and_update_of_no_tracks_return_empty_arrays():
    kf = BoxKalman()
    mean, cov = np.empty((0, 8)), np.empty((0, 8, 8))
    m, c = kf.predict(mean, cov)
    assert m.shape == (0, 8) and c.shape == (0, 8, 8)
    m, c = kf.update(mean, cov, np.empty((0, 4)))
    assert m.shape == (0, 8) and c.shape == (0, 8, 8)


def test_update_pulls_the_state_toward_the_measurement_and_shrinks_uncertainty():
    kf = BoxKalman()
    mean, cov = kf.initiate(np.array([[100.0, 50.0, 40.0, 80.0]]))
    mean, cov = kf.predict(mean, cov)
    measured = np.array([[110.0, 44.0, 44.0, 76.0]])
    new_mean, new_cov = kf.update(mean, cov, measured)
    for k in range(4):
        lo, hi = sorted((mean[0, k], measured[0, k]))
        assert lo < new_mean[0, k] < hi, k
    # a measurement to the right makes the filter believe the box moves right
    assert new_mean[0, 4] > 0 and new_mean[0, 5] < 0
    assert np.all(np.diag(new_cov[0])[:4] < np.diag(cov[0])[:4])
    # covariance stays symmetric
    np.testing.assert_allclose(new_cov[0], new_cov[0].T, atol=1e-9)


def test_update_with_the_predicted_position_leaves_the_mean_unchanged():
    kf = BoxKalman()
    mean, cov = kf.initiate(np.array([[100.0, 50.0, 40.0, 80.0]]))
    mean[0, 4] = 2.0
    mean, cov = kf.predict(mean, cov)
    new_mean, _ = kf.update(mean, cov, mean[:, :4].copy())
    np.testing.assert_allclose(new_mean, mean, atol=1e-9)


def test_filter_learns_a_constant_velocity_from_measurements():
    kf = BoxKalman()
    mean, cov = kf.initiate(np.array([[100.0, 200.0, 40.0, 80.0]]))
    for step in range(1, 40):
        mean, cov = kf.predict(mean, cov)
        mean, cov = kf.update(mean, cov, np.array([[100.0 + 4 * step, 200.0 - 1.5 * step, 40, 80]]))
    assert mean[0, 4] == pytest.approx(4.0, abs=0.05)
    assert mean[0, 5] == pytest.approx(-1.5, abs=0.05)
    assert abs(mean[0, 6]) < 0.01 and abs(mean[0, 7]) < 0.01
    assert mean[0, 0] == pytest.approx(100 + 4 * 39, abs=0.1)


def test_batched_predict_and_update_equal_one_by_one():
    rng = np.random.default_rng(7)
    kf = BoxKalman()
    n = 6
    boxes = np.column_stack(
        [
            rng.uniform(50, 500, n),
            rng.uniform(50, 300, n),
            rng.uniform(10, 80, n),
            rng.uniform(20, 160, n),
        ]
    )
    mean, cov = kf.initiate(boxes)
    mean[:, 4:] = rng.normal(0, 3, (n, 4))
    measurements = boxes + rng.normal(0, 4, (n, 4))

    bm, bc = kf.predict(mean, cov)
    bm, bc = kf.update(bm, bc, measurements)
    for i in range(n):
        m, c = kf.predict(mean[i : i + 1], cov[i : i + 1])
        m, c = kf.update(m, c, measurements[i : i + 1])
        np.testing.assert_allclose(bm[i], m[0], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(bc[i], c[0], rtol=1e-10, atol=1e-10)
