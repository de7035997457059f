"""ML and partial physics modes with small emulators from ml_fixtures.py, on several ranks.
Skipped when hybridge-host was built without the hybridge library."""

from pathlib import Path

import netCDF4
import numpy as np
import pytest

import ml_fixtures
from conftest import CLIMSIM, assert_same_netcdf, log_rows, nc_files, run_host, write_namelist


@pytest.fixture(scope="module")
def models(ml_host_exe, tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return {
        k: ml_fixtures.make(k, d / f"{k}.pt", CLIMSIM)
        for k in ("relax_v1", "recurrent_v1", "nan_at_night", "runaway")
    }


def run(host_exe, run_dir: Path, nranks=2, check=True, **keys):
    run_dir.mkdir(parents=True, exist_ok=True)
    base = {
        "stop_option": "nsteps",
        "stop_n": 12,
        "mli_interval_steps": 6,
        "history_interval_steps": 12,
        "log_interval_steps": 1,
        "output_dir": "out",
    }
    base.update(keys)
    return run_host(host_exe, write_namelist(run_dir / "atm_in", **base), nranks, check=check)


def pair(out: Path, kind: str, stamp="0001-02-01-07200"):
    return netCDF4.Dataset(out / "0001-02" / f"E3SM-MMF.{kind}.{stamp}.nc")


def test_ml_mode_applies_emulator_outputs(host_exe, models, tmp_path):
    proc = run(host_exe, tmp_path, physics_mode="ml", model_path=str(models["relax_v1"]))
    assert all(int(r[10]) == 0 for r in log_rows(proc.stdout))  # no fallback columns
    with (
        pair(tmp_path / "out", "mli") as a,
        pair(tmp_path / "out", "mlo") as b,
        netCDF4.Dataset(CLIMSIM / "input_mean.nc") as m,
    ):
        t_in = np.asarray(a["state_t"][:])
        t_ref = np.asarray(m["state_t"][:], dtype=np.float32)[:, None]
        ptend_t = (np.asarray(b["state_t"][:]) - t_in) / 1200.0
        expected = -(t_in.astype(np.float32) - t_ref) / np.float32(ml_fixtures.TAU_RELAX)
        np.testing.assert_allclose(ptend_t, expected, rtol=1e-4, atol=1e-9)
        np.testing.assert_array_equal(np.asarray(b["state_q0001"][:]), np.asarray(a["state_q0001"][:]))
        np.testing.assert_allclose(
            b["cam_out_NETSW"][:], ml_fixtures.NETSW_FRACTION * a["pbuf_SOLIN"][:], rtol=1e-6, atol=1e-4
        )
        np.testing.assert_allclose(b["cam_out_PRECC"][:], ml_fixtures.PRECC, rtol=1e-6)


def test_partial_mode_mixes_emulator_and_conventional(host_exe, models, tmp_path):
    run(
        host_exe,
        tmp_path / "partial",
        physics_mode="partial",
        model_path=str(models["relax_v1"]),
        ml_variables=["cam_out_NETSW", "ptend_t"],
    )
    run(host_exe, tmp_path / "conv")
    with (
        pair(tmp_path / "partial" / "out", "mli") as a,
        pair(tmp_path / "partial" / "out", "mlo") as b,
        pair(tmp_path / "conv" / "out", "mlo") as c,
    ):
        np.testing.assert_allclose(
            b["cam_out_NETSW"][:], ml_fixtures.NETSW_FRACTION * a["pbuf_SOLIN"][:], rtol=1e-6, atol=1e-4
        )
        # Humidity is the conventional physics': it condenses and precipitates.
        assert (np.asarray(b["cam_out_PRECC"][:]) != ml_fixtures.PRECC).any()
        assert np.asarray(b["cam_out_FLWDS"][:]).min() > 50.0
        assert not np.array_equal(np.asarray(b["state_q0001"][:]), np.asarray(a["state_q0001"][:]))
        assert not np.array_equal(np.asarray(b["state_t"][:]), np.asarray(c["state_t"][:]))


def test_ml_mode_same_on_1_to_4_ranks_with_the_default_chunk(host_exe, models, tmp_path):
    """PEM with the namelist's default ml_chunk (64): 384, 192, 128 columns per rank in whole
    chunks, and 96 per rank on 4 ranks, where the last chunk is padded."""
    for n in (1, 2, 3, 4):
        run(host_exe, tmp_path / f"n{n}", nranks=n, physics_mode="ml", model_path=str(models["relax_v1"]))
    files = nc_files(tmp_path / "n1" / "out")
    for n in (2, 3, 4):
        assert files == nc_files(tmp_path / f"n{n}" / "out")
        for f in files:
            assert_same_netcdf(tmp_path / "n1" / "out" / f, tmp_path / f"n{n}" / "out" / f)


def test_recurrent_state_survives_restart(host_exe, models, tmp_path):
    keys = {
        "physics_mode": "ml",
        "model_path": str(models["recurrent_v1"]),
        "spinup_steps": 2,
        "ramp_steps": 4,
    }
    run(host_exe, tmp_path / "straight", stop_n=12, **keys)
    run(host_exe, tmp_path / "split", stop_n=6, **keys)
    (restart,) = (tmp_path / "split" / "out").glob("*.r.*.nc")
    with netCDF4.Dataset(restart) as r:
        h = np.asarray(r["ml_state"][:])
        assert h.shape == (8, 384) and np.abs(h).max() > 0
    run(host_exe, tmp_path / "split", nranks=3, stop_n=6, restart_file=str(restart), **keys)
    for f in nc_files(tmp_path / "straight" / "out"):
        assert_same_netcdf(tmp_path / "straight" / "out" / f, tmp_path / "split" / "out" / f)


def test_nonfinite_outputs_fall_back_or_abort(host_exe, models, tmp_path):
    keys = {"physics_mode": "ml", "model_path": str(models["nan_at_night"]), "stop_n": 3}
    proc = run(host_exe, tmp_path / "fallback", nonfinite_policy="fallback", **keys)
    fallback = [int(r[10]) for r in log_rows(proc.stdout)]
    assert 0 < fallback[0] < 384, fallback
    proc = run(host_exe, tmp_path / "abort", nonfinite_policy="abort", check=False, **keys)
    assert proc.returncode != 0
    assert "non-finite outputs for global column" in proc.stderr


def test_bad_model_path_is_named(host_exe, models, tmp_path):
    proc = run(host_exe, tmp_path, physics_mode="ml", model_path=str(tmp_path / "missing.pt"), check=False)
    assert proc.returncode != 0 and "missing.pt" in proc.stderr


def test_cuda_graphs_key_reaches_the_engine(host_exe, models, tmp_path):
    proc = run(
        host_exe,
        tmp_path,
        physics_mode="ml",
        model_path=str(models["relax_v1"]),
        device="cpu",
        ml_cuda_graphs=True,
        check=False,
    )
    assert proc.returncode != 0 and "cuda_graphs=on needs a CUDA device" in proc.stderr, proc.stderr


def test_stability_guard_stops_with_crash_dump(host_exe, models, tmp_path):
    proc = run(
        host_exe, tmp_path, nranks=1, physics_mode="ml", model_path=str(models["runaway"]), check=False
    )
    assert proc.returncode != 0
    assert "stability guard at 0001-02-01-00000: state_t =" in proc.stderr, proc.stderr
    assert "at global column 1, level " in proc.stderr and "rank 0:" in proc.stderr
    (dump,) = (tmp_path / "out").glob("crash.rank0.col1.txt")
    rows = [ln.split() for ln in dump.read_text().splitlines() if not ln.startswith("#")]
    assert len(rows) == 60 and float(rows[-1][4]) > 350.0  # t_out of the lowest level
