"""hybridge-host with its spectral dynamical core (dynamics = 'spectral', issue 14), at T21 on
20 of the ClimSim levels (every third interface) unless a test needs the 60:

* Held-Suarez forcing, 10 days: stable, mass and energy kept, midlatitude westerlies spin up;
* dyn_diffusion_time sets the hyperdiffusion's strength;
* PEM: 1, 2, 3 and 4 ranks (and 2 threads) write identical files, bit for bit;
* ERS: a run stopped, restarted on another number of ranks, ends bit for bit as the straight run;
* moist physics on the core's columns: budgets close, winds prognostic with boundary-layer
  drag, ClimSim-format files on the Gaussian grid and its grid file;
* the emulator in 'ml' and 'partial' mode on the core's columns.

The 1000-day Held-Suarez climatology is a benchmark (bench/held_suarez.py, make bench).
"""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest

import ml_fixtures
from conftest import CLIMSIM, assert_same_netcdf, log_rows, nc_files, run_host, write_namelist

T21_L20 = {"dynamics": "spectral", "truncation": "T21", "nlev": 20}
NCOL_T21 = 32 * 64


def dyn_rows(stdout: str) -> list[dict]:
    """The 'dyn' log lines: step, global-mean ps, energy change by the dynamics, largest wind."""
    rows = []
    for line in stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "dyn":
            rows.append(
                {
                    "step": int(parts[1]),
                    "ps": float(parts[3]),
                    "de_dyn": float(parts[5]),
                    "vmax": float(parts[7]),
                }
            )
    return rows


@pytest.mark.parametrize("levels", ["climsim", "sigma"])
def test_held_suarez_ten_days_stable_mass_energy(host_exe, tmp_path, levels):
    days = 10
    nml = write_namelist(
        tmp_path / "atm_in",
        physics_package="held_suarez",
        vertical_levels=levels,
        stop_option="ndays",
        stop_n=days,
        history_interval_steps=72 * days,
        log_interval_steps=12,
        output_dir="out",
        **T21_L20,
    )
    proc = run_host(host_exe, nml, 2, timeout=240)
    rows = dyn_rows(proc.stdout)
    assert len(rows) == days * 6
    # Stable: winds stay below the 100 m/s the CFL limit is set for.
    assert max(r["vmax"] for r in rows) < 100.0
    # Mass: the global-mean surface pressure stays within 10 Pa of 1000 hPa (1e-4).
    assert max(abs(r["ps"] - 1.0e5) for r in rows) < 10.0
    # Energy: after the first day's adjustment, the dynamics changes total energy only by what
    # diffusion, the time filter and the sponge dissipate (HS's forcing moves ~100 W/m2).
    later = [r["de_dyn"] for r in rows if r["step"] > 72]
    assert -3.0 < np.mean(later) < 0.5, np.mean(later)
    # The circulation spins up: midlatitude westerlies near 250 hPa, both hemispheres.
    (h0,) = (tmp_path / "out").glob("*.h0.*.nc")
    with netCDF4.Dataset(h0) as d, netCDF4.Dataset(next((tmp_path / "out").glob("*.grid-info.nc"))) as g:
        u = np.asarray(d["state_u"][:]).reshape(20, 32, 64).mean(axis=2)
        lat = np.asarray(g["lat"][:]).reshape(32, 64)[:, 0]
        p = (np.asarray(g["hyam"][:]) + np.asarray(g["hybm"][:])) * 1000.0
    k = int(np.argmin(np.abs(p - 250.0)))
    for hemisphere in (1, -1):
        band = (lat * hemisphere > 25) & (lat * hemisphere < 60)
        assert u[k, band].max() > 10.0, (hemisphere, u[k, band])


def test_dyn_diffusion_time_sets_the_hyperdiffusion(host_exe, tmp_path):
    """A shorter e-folding time at n = N damps the initial small-scale noise harder (zonal
    wavenumbers 18-21 of T21, where 1200 s at n = N damps ~7x faster than the default 0.1 day),
    and the log says which time the core runs with."""

    def zonal_noise(name: str, **extra) -> float:
        run_dir = tmp_path / name
        run_dir.mkdir()
        nml = write_namelist(
            run_dir / "atm_in",
            physics_package="held_suarez",
            vertical_levels="sigma",
            stop_option="nsteps",
            stop_n=6,
            history_interval_steps=6,
            output_dir="out",
            **T21_L20,
            **extra,
        )
        proc = run_host(host_exe, nml, 2, timeout=120)
        seconds = extra.get("dyn_diffusion_time", 8640)
        assert f"hyperdiffusion {seconds} s at n = N" in proc.stdout
        (h0,) = (run_dir / "out").glob("*.h0.*.nc")
        with netCDF4.Dataset(h0) as d:
            t = np.asarray(d["state_t"][:]).reshape(20, 32, 64)
        return float(np.abs(np.fft.rfft(t, axis=2)[:, :, 18:22]).sum())

    default, strong = zonal_noise("default"), zonal_noise("strong", dyn_diffusion_time=1200)
    assert 0 < strong < 0.5 * default, (strong, default)


def _spectral_moist(run_dir: Path, **extra) -> Path:
    keys = {
        "stop_option": "nsteps",
        "stop_n": 6,
        "mli_interval_steps": 3,
        "history_interval_steps": 6,
        "log_interval_steps": 3,
        "output_dir": "out",
        **T21_L20,
        **extra,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    return write_namelist(run_dir / "atm_in", **keys)


def test_pem_1_2_3_4_ranks_and_2_threads_identical(host_exe, tmp_path, monkeypatch):
    outputs = {}
    for nranks in (1, 2, 3, 4):
        run_host(host_exe, _spectral_moist(tmp_path / f"n{nranks}"), nranks, timeout=240)
        outputs[nranks] = tmp_path / f"n{nranks}" / "out"
    files = nc_files(outputs[1])
    assert len([f for f in files if ".mli." in f.name]) == 2 and any(".r." in f.name for f in files)
    for nranks in (2, 3, 4):
        assert nc_files(outputs[nranks]) == files
        for f in files:
            assert_same_netcdf(outputs[1] / f, outputs[nranks] / f)
    # Threads: the same run with two OpenMP threads per rank.
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    run_host(host_exe, _spectral_moist(tmp_path / "threads", num_threads=2), 2, timeout=240)
    for f in files:
        assert_same_netcdf(outputs[1] / f, tmp_path / "threads" / "out" / f)


def test_ers_restart_on_other_rank_counts_is_bit_for_bit(host_exe, tmp_path):
    common = {"mli_interval_steps": 4, "history_interval_steps": 12, "log_interval_steps": 12}
    run_host(host_exe, _spectral_moist(tmp_path / "straight", stop_n=12, **common), 2, timeout=240)
    split = tmp_path / "split"
    run_host(host_exe, _spectral_moist(split, stop_n=6, **common), 1, timeout=240)
    (restart,) = (split / "out").glob("*.r.*.nc")
    cont = write_namelist(
        split / "atm_in2",
        stop_option="nsteps",
        stop_n=6,
        output_dir="out",
        restart_file=str(restart),
        **T21_L20,
        **common,
    )
    run_host(host_exe, cont, 3, timeout=240)
    files = nc_files(tmp_path / "straight" / "out")
    assert set(files) <= set(nc_files(split / "out"))
    for f in files:
        assert_same_netcdf(tmp_path / "straight" / "out" / f, split / "out" / f)


def test_moist_physics_on_the_gaussian_grid(host_exe, tmp_path):
    nml = _spectral_moist(
        tmp_path, stop_n=36, mli_interval_steps=35, history_interval_steps=36, log_interval_steps=1
    )
    proc = run_host(host_exe, nml, 2, timeout=240)
    rows = log_rows(proc.stdout)
    assert len(rows) == 36
    # Budgets of the physics close on the core's columns as on the ClimSim grid.
    assert max(abs(float(r[5])) for r in rows) < 1e-8  # E_resid [W/m2]
    assert max(abs(float(r[8])) for r in rows) < 1e-15  # W_resid [kg/m2/s]
    assert 0.5 < np.mean([float(r[9]) for r in rows[12:]]) < 20.0  # precipitation [mm/day]
    out = tmp_path / "out"
    stamp = "0001-02-01-42000"
    with (
        netCDF4.Dataset(out / "0001-02" / f"E3SM-MMF.mli.{stamp}.nc") as mli,
        netCDF4.Dataset(out / "0001-02" / f"E3SM-MMF.mlo.{stamp}.nc") as mlo,
        netCDF4.Dataset(out / "E3SM-MMF.grid-info.nc") as grid,
    ):
        assert mli.dimensions["ncol"].size == NCOL_T21 and mli.dimensions["lev"].size == 20
        for name in ("state_t", "state_q0001", "state_u", "state_v", "state_ps", "pbuf_SOLIN", "pbuf_LHFLX"):
            assert name in mli.variables, name
        assert mli["state_t"].dimensions == ("lev", "ncol")
        q_in = np.asarray(mli["state_q0001"][:])
        assert q_in.min() >= 0.0, "the dynamics' negative humidity is filled before the physics"
        u_in, u_out = np.asarray(mli["state_u"][:]), np.asarray(mlo["state_u"][:])
        assert 2.0 < np.abs(u_in).max() < 100.0
        # Boundary-layer drag: the lowest level's wind slows where it blows.
        windy = np.abs(u_in[-1]) > 2.0
        assert (np.abs(u_out[-1][windy]) < np.abs(u_in[-1][windy])).mean() > 0.95
        ps = np.asarray(mli["state_ps"][:])
        assert ps.std() > 10.0, "surface pressure is prognostic"
        # The grid file, in ClimSim's variables and units.
        area = np.asarray(grid["area"][:])
        assert area.shape == (NCOL_T21,) and abs(area.sum() - 4 * np.pi) < 1e-12
        lat = np.asarray(grid["lat"][:])
        assert -90 < lat.min() < -85 and 85 < lat.max() < 90
        assert grid["hyai"].shape == (21,) and grid["hyam"].shape == (20,)
        assert float(grid["P0"][...]) == 1.0e5


@pytest.fixture(scope="module")
def relax_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return ml_fixtures.make("relax_v1", d / "relax_v1.pt", CLIMSIM)


@pytest.mark.parametrize("mode", ["ml", "partial"])
def test_emulator_modes_on_the_spectral_core(ml_host_exe, relax_model, tmp_path, mode):
    """A ClimSim v1 emulator (60 levels) couples unchanged: it owns ptend_t; the boundary-layer
    drag (ptend_u, ptend_v), which v1 does not predict, stays with the conventional physics."""
    keys = {"physics_mode": mode, "model_path": str(relax_model), "nlev": 60}
    if mode == "partial":
        keys["ml_variables"] = ["ptend_t", "cam_out_NETSW"]
    nml = _spectral_moist(tmp_path, **keys)
    run_host(ml_host_exe, nml, 2, timeout=240)
    stamp = "0001-02-01-03600"
    with (
        netCDF4.Dataset(tmp_path / "out" / "0001-02" / f"E3SM-MMF.mli.{stamp}.nc") as a,
        netCDF4.Dataset(tmp_path / "out" / "0001-02" / f"E3SM-MMF.mlo.{stamp}.nc") as b,
        netCDF4.Dataset(CLIMSIM / "input_mean.nc") as m,
    ):
        assert a.dimensions["ncol"].size == NCOL_T21
        t_in = np.asarray(a["state_t"][:])
        t_ref = np.asarray(m["state_t"][:], dtype=np.float32)[:, None]
        ptend_t = (np.asarray(b["state_t"][:]) - t_in) / 1200.0
        expected = -(t_in.astype(np.float32) - t_ref) / np.float32(ml_fixtures.TAU_RELAX)
        np.testing.assert_allclose(ptend_t, expected, rtol=1e-4, atol=1e-9)
        u_in, u_out = np.asarray(a["state_u"][:]), np.asarray(b["state_u"][:])
        assert not np.array_equal(u_in[-1], u_out[-1]), "the drag still acts on the lowest level"
