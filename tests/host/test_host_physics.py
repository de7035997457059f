"""Physics sanity of the conventional model over 30 simulated days (one run, shared by the
tests below): budgets close, humidity stays non-negative, the climate stays near the
ClimSim mean profiles, and the ClimSim files hold what the physics did.

Stated tolerances:
  energy budget residual (physics enthalpy change - surface and radiative sources),
      every step, global mean:                          |resid| < 1e-8 W/m2
  water budget residual (vapour change - (E - P)):      |resid| < 1e-15 kg/m2/s (fluxes ~1e-5)
  water budget recomputed from one .mli/.mlo pair:      relative error < 1e-9
  30-day mean, global-mean T profile vs input_mean.nc:  every level within 8 K, RMS < 4 K
  30-day mean humidity vs input_mean.nc (area mean):    lowest level within 15 %, 500 hPa within 30 %
  global-mean precipitation 2-5 mm/day; insolation 340.3 W/m2 (S0/4) within 1 W/m2
  no drift: the mass-weighted mean T of day 30 within 0.5 K of day 10
"""

from pathlib import Path

import netCDF4
import numpy as np
import pytest

from conftest import CLIMSIM, STEPS_PER_DAY, log_rows, run_host, write_namelist

GRAV, LATVAP, RHOW = 9.80616, 2.501e6, 1000.0
NDAYS = 30


@pytest.fixture(scope="module")
def month(host_exe, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("month")
    nml = write_namelist(
        run_dir / "atm_in",
        stop_option="ndays",
        stop_n=NDAYS,
        mli_interval_steps=NDAYS * STEPS_PER_DAY - 1,
        history_interval_steps=NDAYS * STEPS_PER_DAY,
        log_interval_steps=1,
        restart_at_end=False,
        output_dir="out",
    )
    proc = run_host(host_exe, nml, nranks=1, timeout=900)
    return run_dir / "out", proc.stdout


@pytest.fixture(scope="module")
def grid():
    with netCDF4.Dataset(CLIMSIM / "ClimSim_low-res_grid-info.nc") as g:
        area = np.asarray(g["area"][:])
        return {
            "w": area / area.sum(),
            "hyai": np.asarray(g["hyai"][:]),
            "hybi": np.asarray(g["hybi"][:]),
            "hyam": np.asarray(g["hyam"][:]),
            "hybm": np.asarray(g["hybm"][:]),
            "P0": float(g["P0"][...]),
        }


def test_budgets_close_every_step(month):
    rows = log_rows(month[1])
    assert len(rows) == NDAYS * STEPS_PER_DAY
    e_resid = np.array([float(r[5]) for r in rows])
    w_resid = np.array([float(r[8]) for r in rows])
    qneg = np.array([int(r[11]) for r in rows])
    assert np.abs(e_resid).max() < 1e-8
    assert np.abs(w_resid).max() < 1e-15
    assert qneg.sum() == 0


def test_no_drift(month):
    t_mean = np.array([float(r[2]) for r in log_rows(month[1])])
    assert abs(t_mean[-1] - t_mean[10 * STEPS_PER_DAY - 1]) < 0.5


def test_climate_near_climsim_mean(month, grid):
    (hist,) = month[0].glob("*.h0.*.nc")
    with netCDF4.Dataset(hist) as h, netCDF4.Dataset(CLIMSIM / "input_mean.nc") as m:
        t = np.asarray(h["state_t"][:])  # (lev, ncol)
        q = np.asarray(h["state_q0001"][:])
        assert t.shape == (60, 384)
        t_glob, q_glob = t @ grid["w"], q @ grid["w"]
        t_ref, q_ref = np.asarray(m["state_t"][:]), np.asarray(m["state_q0001"][:])
        dt = t_glob - t_ref
        assert np.abs(dt).max() < 8.0, dt
        assert np.sqrt(np.mean(dt**2)) < 4.0
        assert abs(q_glob[-1] / q_ref[-1] - 1) < 0.15
        pmid = grid["hyam"] * grid["P0"] + grid["hybm"] * 1.0e5
        k500 = int(np.argmin(np.abs(pmid - 5.0e4)))
        assert abs(q_glob[k500] / q_ref[k500] - 1) < 0.30
        assert (q >= 0).all()
        precip = float(np.asarray(h["cam_out_PRECC"][:]) @ grid["w"]) * 86400e3
        assert 2.0 < precip < 5.0
        assert abs(float(np.asarray(h["pbuf_SOLIN"][:]) @ grid["w"]) - 1361.0 / 4) < 1.0
        assert (np.asarray(h["cam_out_PRECSC"][:]) <= np.asarray(h["cam_out_PRECC"][:])).all()


def test_mli_mlo_water_budget(month, grid):
    """(mlo - mli)/1200 is what the physics did: the column vapour change equals E - P."""
    mli = sorted(month[0].rglob("*.mli.*.nc"))[-1]  # the last step of the month
    mlo = Path(str(mli).replace(".mli.", ".mlo."))
    with netCDF4.Dataset(mli) as a, netCDF4.Dataset(mlo) as b:
        ps = np.asarray(a["state_ps"][:])
        pint = grid["hyai"][:, None] * grid["P0"] + grid["hybi"][:, None] * ps[None, :]
        dp = np.diff(pint, axis=0)
        dq = (np.asarray(b["state_q0001"][:]) - np.asarray(a["state_q0001"][:])) / 1200.0
        dw = (dq * dp).sum(0) / GRAV
        e_minus_p = np.asarray(a["pbuf_LHFLX"][:]) / LATVAP - RHOW * np.asarray(b["cam_out_PRECC"][:])
        assert np.abs(dw - e_minus_p).max() < 1e-9 * np.abs(e_minus_p).max()
        assert (np.asarray(b["state_q0001"][:]) >= 0).all()
