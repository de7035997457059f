"""Online-evaluation metrics (hybridge.online.metrics) on small hand-made data, and the
host-log parser. No host model needed."""

import math
import types
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from hybridge.data import DataError
from hybridge.online import metrics
from hybridge.online.host import namelist_text, parse_log


def test_mass_weighted_rmse_matches_hand_computation():
    # one step, 2 columns x 2 levels; error e, area a, layer mass m (kg/m2)
    a = np.array([[[1.0, 0.0], [0.0, 2.0]]])
    b = np.zeros_like(a)
    area = np.array([1.0, 3.0])
    mass = np.array([[[1.0, 1.0], [2.0, 2.0]]])
    # w = a_c * m_ck = [[1, 1], [6, 6]];  sum w e^2 = 1*1 + 6*4 = 25;  sum w = 14
    assert metrics.mass_weighted_rmse(a, b, area, mass)[0] == pytest.approx(math.sqrt(25 / 14), rel=1e-15)


def test_mass_weighted_rmse_per_time_step_and_nan_for_blown_up_state():
    rng = np.random.default_rng(0)
    b = rng.normal(size=(3, 4, 5))
    a = b + np.array([0.0, 1.0, np.nan])[:, None, None]
    r = metrics.mass_weighted_rmse(a, b, rng.uniform(1, 2, 4), rng.uniform(1, 2, (3, 4, 5)))
    assert r[0] == 0.0 and r[1] == pytest.approx(1.0) and np.isnan(r[2])


def test_layer_mass_is_dp_over_g():
    hyai, hybi = np.array([0.0, 0.1, 0.0]), np.array([0.0, 0.2, 1.0])
    ps = np.array([1.0e5, 9.0e4])
    m = metrics.layer_mass(ps, hyai, hybi)
    # layer 0: 0.1*P0 + 0.2*ps; layer 1: -0.1*P0 + 0.8*ps
    expected = np.array([[0.1e5 + 0.2e5, -0.1e5 + 0.8e5], [0.1e5 + 0.18e5, -0.1e5 + 0.72e5]]) / 9.80616
    np.testing.assert_allclose(m, expected, rtol=1e-14)
    np.testing.assert_allclose(m.sum(-1), ps / 9.80616, rtol=1e-14)  # the whole column's mass


def test_zonal_mean_weights_by_area_and_marks_empty_bands():
    lat = np.array([-5.0, -1.0, 45.0])
    area = np.array([1.0, 3.0, 2.0])
    x = np.array([[2.0], [6.0], [7.0]])
    z = metrics.zonal_mean(x, lat, area, edges=np.array([-90.0, 0.0, 30.0, 90.0]))
    assert z[0, 0] == pytest.approx((1 * 2 + 3 * 6) / 4) and np.isnan(z[1, 0]) and z[2, 0] == 7.0


def test_column_budgets_and_precipitation():
    q = np.array([[[1e-3, 2e-3]]])
    t = np.array([[[250.0, 300.0]]])
    mass = np.array([[[100.0, 200.0]]])
    assert metrics.column_water(q, mass)[0, 0] == pytest.approx(0.5)
    assert metrics.column_energy(t, q, mass)[0, 0] == pytest.approx(
        1004.64 * (250 * 100 + 300 * 200) + 2.501e6 * 0.5
    )
    assert metrics.precip_mm_per_day(np.array([1e-8]))[0] == pytest.approx(0.864)
    d = metrics.precip_density(np.array([0.0, 0.005, 1.0, 1e4, np.nan]))
    assert d.sum() == pytest.approx(1.0) and d[0] == pytest.approx(0.5) and d[-1] == pytest.approx(0.25)


def test_stamp_seconds_uses_the_noleap_calendar():
    assert metrics.stamp_seconds("0001-03-01-00000") - metrics.stamp_seconds("0001-02-28-00000") == 86400
    assert (
        metrics.stamp_seconds("0002-01-01-01200") - metrics.stamp_seconds("0001-01-01-00000")
        == 365 * 86400 + 1200
    )


def _write_pair(
    root: Path, stamp: str, t: np.ndarray, q: np.ndarray, ps: np.ndarray, precc: np.ndarray, mlo=True
):
    month = root / stamp[:7]
    month.mkdir(parents=True, exist_ok=True)
    kinds = ["mli"] + (["mlo"] if mlo else [])
    for kind in kinds:
        with netCDF4.Dataset(month / f"E3SM-MMF.{kind}.{stamp}.nc", "w") as d:
            d.createDimension("lev", t.shape[1])
            d.createDimension("ncol", t.shape[0])
            d.createVariable("state_t", "f8", ("lev", "ncol"))[:] = t.T
            d.createVariable("state_q0001", "f8", ("lev", "ncol"))[:] = q.T
            d.createVariable("state_ps", "f8", ("ncol",))[:] = ps
            if kind == "mlo":
                d.createVariable("cam_out_PRECC", "f8", ("ncol",))[:] = precc


def _grid(ncol, nlev):
    return types.SimpleNamespace(
        lat=np.linspace(-60, 60, ncol),
        area=np.arange(1.0, ncol + 1),
        hyai=np.linspace(0, 0.1, nlev + 1),
        hybi=np.linspace(0, 1, nlev + 1),
    )


def _state(ncol, nlev, offset=0.0):
    t = 250.0 + np.arange(ncol * nlev, dtype=float).reshape(ncol, nlev) + offset
    return t, np.full((ncol, nlev), 1e-3), np.full(ncol, 1e5), np.full(ncol, 1e-8)


def test_compare_on_files_gives_zero_for_equal_runs_and_the_offset_for_shifted_ones(tmp_path):
    ncol, nlev = 4, 3
    stamps = ["0001-02-01-03600", "0001-02-01-07200"]
    for s in stamps:
        _write_pair(tmp_path / "ref", s, *_state(ncol, nlev))
        _write_pair(tmp_path / "run", s, *_state(ncol, nlev, offset=1.5))
    ref, run = metrics.load_trajectory(tmp_path / "ref"), metrics.load_trajectory(tmp_path / "run")
    assert ref.t.shape == (2, ncol, nlev) and ref.stamps == stamps
    same = metrics.compare(ref, ref, _grid(ncol, nlev))
    assert same["rmse_t_K"] == [0.0, 0.0] and same["final_rmse_q_g_per_kg"] == 0.0
    m = metrics.compare(ref, run, _grid(ncol, nlev))
    np.testing.assert_allclose(m["rmse_t_K"], 1.5)
    assert m["hours"] == [0.0, 1.0]
    bias = np.array(m["zonal_bias_t_K"])
    np.testing.assert_allclose(bias[np.isfinite(bias[:, 0])], 1.5)
    assert m["precip_mean_mm_per_day"]["run"] == pytest.approx(0.864)
    assert m["water_drift_kg_per_m2"]["run"] == [0.0, 0.0]


def test_trajectory_of_a_stopped_run_drops_only_the_last_lone_mli(tmp_path):
    ncol, nlev = 2, 2
    _write_pair(tmp_path, "0001-02-01-00000", *_state(ncol, nlev))
    _write_pair(tmp_path, "0001-02-01-01200", *_state(ncol, nlev), mlo=False)
    assert metrics.load_trajectory(tmp_path).stamps == ["0001-02-01-00000"]
    _write_pair(tmp_path, "0001-02-01-02400", *_state(ncol, nlev))
    with pytest.raises(DataError, match=r"E3SM-MMF\.mli\.0001-02-01-01200\.nc: no \.mlo partner"):
        metrics.load_trajectory(tmp_path)


def test_bad_files_are_named(tmp_path):
    with pytest.raises(DataError, match="run output folder not found"):
        metrics.load_trajectory(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no complete \.mli/\.mlo pair"):
        metrics.load_trajectory(tmp_path / "empty")
    t, q, ps, precc = _state(3, 2)
    _write_pair(tmp_path / "bad", "0001-02-01-00000", t, q, ps, precc)
    with netCDF4.Dataset(tmp_path / "bad" / "0001-02" / "E3SM-MMF.mlo.0001-02-01-00000.nc", "a") as d:
        d.renameVariable("cam_out_PRECC", "precip")
    with pytest.raises(DataError, match="variable 'cam_out_PRECC' not found"):
        metrics.load_trajectory(tmp_path / "bad")


def test_compare_needs_common_stamps(tmp_path):
    _write_pair(tmp_path / "a", "0001-02-01-00000", *_state(2, 2))
    _write_pair(tmp_path / "b", "0001-02-02-00000", *_state(2, 2))
    a, b = metrics.load_trajectory(tmp_path / "a"), metrics.load_trajectory(tmp_path / "b")
    with pytest.raises(DataError, match="same start and mli_interval_steps"):
        metrics.common_stamps(a, b, "a", "b")


LOG = """hybridge-host: 2 ranks, physics_mode = ml, 3 steps from 0001-02-03-00000
   step date              T_mean[K]  dE_phys  E_sources  E_resid[W/m2]   dW_phys ...
    145 0001-02-03-01200  249.3256 -1.590E+02 -1.590E+02  2.000E+00   -1.353E-04  -1.353E-04  1.000E-05   11.9164      3      0      1.46
    146 0001-02-03-02400  **********  NaN  NaN  4.000E+00   -1.353E-04  -1.353E-04  3.000E-05   11.9164      1      0      1.46
hybridge-host: rank 1: stability guard at 0001-02-03-02400: state_t = ...
"""


def test_host_log_rows_and_budget_residuals():
    rows = parse_log(LOG)
    assert [r["step"] for r in rows] == [145, 146]
    assert math.isnan(rows[1]["t_mean"]) and rows[0]["t_mean"] == 249.3256
    b = metrics.budget_residuals(rows)
    assert b["energy_residual_W_per_m2"] == pytest.approx(3.0)
    assert b["water_residual_mm_per_day"] == pytest.approx(2e-5 * 86400)
    assert b["fallback_columns"] == 4


GUARDED_LOG = """    1 0002-02-01-01200  249.3256 -1.590E+02 -1.590E+02  2.000E+00   -1.353E-04  -1.353E-04  1.000E-05   11.9164      0      0      1.46       0
    2 0002-02-01-02400  249.3256 -1.590E+02 -1.590E+02  2.000E+00   -1.353E-04  -1.353E-04  1.000E-05   11.9164     96      0      1.46      96
    3 0002-02-01-03600  249.3256 -1.590E+02 -1.590E+02  2.000E+00   -1.353E-04  -1.353E-04  1.000E-05   11.9164     48      0      1.46      48
"""


def test_guard_statistics_from_the_guarded_log_column():
    rows = parse_log(GUARDED_LOG)
    assert [r["guarded"] for r in rows] == [0, 96, 48]
    assert all(r["guarded"] == 0 for r in parse_log(LOG))  # a log from before the guard
    g = metrics.guard_statistics(rows, ncol=384, steps_per_day=72)
    assert g["guarded_fraction"] == [0.0, 0.25, 0.125]
    assert g["days"] == pytest.approx([1 / 72, 2 / 72, 3 / 72])
    assert g["mean_guarded_fraction"] == pytest.approx(0.125) and g["max_guarded_fraction"] == 0.25
    assert g["steps_with_guarded_columns"] == 2 and g["guarded_columns"] == 144


def test_namelist_text_quotes_strings_and_lists():
    text = namelist_text(
        physics_mode="partial", ml_variables=["ptend_t", "cam_out_NETSW"], stop_n=3, restart_at_end=False
    )
    assert text.splitlines() == [
        "&hybridge_nl",
        "  physics_mode = 'partial'",
        "  ml_variables = 'ptend_t', 'cam_out_NETSW'",
        "  stop_n = 3",
        "  restart_at_end = .false.",
        "/",
    ]
