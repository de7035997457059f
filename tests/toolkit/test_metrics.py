"""The skill definition (hybridge.skill) against direct formulas, and the ensemble CRPS."""

import numpy as np
import pytest

from hybridge.data import VariableSet
from hybridge.evaluation.scoring import _crps
from hybridge.skill import SkillSums, mean_r2, per_variable


def _random(nt, ncol, nfeat, seed=0):
    rng = np.random.default_rng(seed)
    # a large mean with a small variation, as an outgoing flux: the sums must stay exact
    y = 350.0 + rng.normal(size=(nt, ncol, nfeat)) + rng.normal(size=(1, ncol, nfeat))
    p = y + 0.3 * rng.normal(size=y.shape) + 0.1
    return y, p


def test_r2_rmse_bias_match_direct_formulas():
    nt, ncol, nfeat = 7, 6, 3
    y, p = _random(nt, ncol, nfeat)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=ncol)
    sums = SkillSums(ncol, nfeat)
    for t in range(nt):
        sums.add(y[t], p[t])
    cols = np.array([1, 2, 4])
    got = sums.per_feature(w, cols)
    y, p, wc = y[:, cols], p[:, cols], w[cols][None, :, None]
    sst = (wc * (y - y.mean(0, keepdims=True)) ** 2).sum((0, 1))  # about each column's time mean
    sse = (wc * (p - y) ** 2).sum((0, 1))
    np.testing.assert_allclose(got["r2"], 1 - sse / sst, rtol=1e-9)
    np.testing.assert_allclose(got["rmse"], np.sqrt(sse / (wc.sum() * nt)), rtol=1e-9)
    np.testing.assert_allclose(got["bias"], (wc * (p - y)).sum((0, 1)) / (wc.sum() * nt), rtol=1e-9)


def test_constant_target_is_undefined_not_bad_and_left_out_of_the_variable_mean():
    ncol, steps = 4, 3
    varset = VariableSet("t", (("a", 1),), (("prof", 3), ("flux", 1)))
    sums = SkillSums(ncol, 4)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        y = rng.normal(size=(ncol, 4))
        y[:, 0] = 0.0  # a zeroed top level: the same value at every step
        y[:, 3] = 5.0
        sums.add(y, y + 0.1 * rng.normal(size=y.shape))
    feat = sums.per_feature()
    assert np.isnan(feat["r2"][0]) and np.isnan(feat["r2"][3]) and np.isfinite(feat["r2"][1:3]).all()
    rows = per_variable(feat, varset)
    assert rows[0]["r2_levels"] == 2 and rows[0]["r2"] == pytest.approx(feat["r2"][1:3].mean())
    assert np.isnan(rows[1]["r2"]) and rows[1]["r2_levels"] == 0
    assert mean_r2(rows) == pytest.approx(rows[0]["r2"])


def test_one_time_step_has_no_r2():
    sums = SkillSums(2, 1)
    sums.add(np.array([[1.0], [2.0]]), np.array([[1.0], [2.0]]))
    assert np.isnan(sums.per_feature()["r2"][0])


def test_crps_of_an_ensemble():
    y = np.array([0.0, 1.0])
    same = np.array([[2.0, 1.0], [2.0, 1.0]])  # no spread: CRPS = absolute error
    np.testing.assert_allclose(_crps(same, y), [2.0, 0.0])
    pair = np.array([[-1.0, 0.0], [1.0, 2.0]])  # truth between two members
    # mean|x-y| = 1; mean over ordered pairs |x-x'| = 1 -> 1 - 0.5 = 0.5
    np.testing.assert_allclose(_crps(pair, y), [0.5, 0.5])
