"""The evaluation metrics against direct formulas."""

import numpy as np
import pytest

from hybridge.evaluate import _crps, _Sums


def test_weighted_r2_rmse_bias_match_direct_formulas():
    rng = np.random.default_rng(0)
    ncol, nfeat, nt = 6, 3, 5
    sums = _Sums(ncol, nfeat)
    ys, ps, ws = [], [], []
    for _ in range(nt):
        y = rng.normal(size=(ncol, nfeat))
        p = y + 0.3 * rng.normal(size=(ncol, nfeat)) + 0.1
        w = rng.uniform(0.5, 2.0, size=(ncol, nfeat))
        sums.add(w, y, p, None)
        ys.append(y), ps.append(p), ws.append(w)
    y, p, w = (np.stack(a) for a in (ys, ps, ws))
    cols, feats = np.array([1, 2, 4]), np.array([0, 2])
    y, p, w = (a[:, cols][:, :, feats] for a in (y, p, w))
    m = sums.metrics(cols, feats)
    mean = (w * y).sum((0, 1)) / w.sum((0, 1))  # each feature about its own mean
    sst = (w * (y - mean) ** 2).sum()
    assert m["r2"] == pytest.approx(1 - (w * (p - y) ** 2).sum() / sst)
    assert m["rmse"] == pytest.approx(np.sqrt((w * (p - y) ** 2).sum() / w.sum()))
    assert m["bias"] == pytest.approx((w * (p - y)).sum() / w.sum())


def test_crps_of_an_ensemble():
    y = np.array([0.0, 1.0])
    same = np.array([[2.0, 1.0], [2.0, 1.0]])  # no spread: CRPS = absolute error
    np.testing.assert_allclose(_crps(same, y), [2.0, 0.0])
    pair = np.array([[-1.0, 0.0], [1.0, 2.0]])  # truth between two members
    # mean|x-y| = 1; mean over ordered pairs |x-x'| = 1 -> 1 - 0.5 = 0.5
    np.testing.assert_allclose(_crps(pair, y), [0.5, 0.5])
