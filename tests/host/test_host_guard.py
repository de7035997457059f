"""The out-of-distribution guard in hybridge-host (namelist ml_guard, issue 15): with
ml_guard = 'fallback' the conventional physics takes exactly the columns whose emulator
inputs leave the training range the manifest records, the emulator all others; the count
is in the log and the history; results do not depend on the number of ranks.

The emulator is relax_v1 (ml_fixtures.py) with a training range narrowed on purpose: the
lowest level's temperature capped, the surface pressure floored, at values between the
initial state's columns, so that a known subset of the columns is out of range."""

from pathlib import Path

import netCDF4
import numpy as np
import pytest

import ml_fixtures
from conftest import CLIMSIM, STEPS_PER_DAY, assert_same_netcdf, log_rows, nc_files, run_host, write_namelist

NLEV = ml_fixtures.NLEV
T_LOWEST = NLEV - 1  # index of the lowest level's T in x
PS = 2 * NLEV  # index of state_ps in x
WIDE = 1.0e6  # a range no value of these runs leaves (so the tests set ml_guard_margin = 0)
START = "0001-02-01-00000"
GUARDED_COLUMN = 13  # log rows: step date ... fallback qneg steps/s guarded


def run(host_exe, run_dir: Path, nranks=2, check=True, **keys):
    """A host run of one step by default, every file written at every step; each run is
    limited to 300 s (run_host's timeout)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    base = {
        "stop_option": "nsteps",
        "stop_n": 1,
        "mli_interval_steps": 1,
        "history_interval_steps": 1,
        "log_interval_steps": 1,
        "restart_at_end": False,
        "output_dir": "out",
    }
    base.update(keys)
    return run_host(host_exe, write_namelist(run_dir / "atm_in", **base), nranks, check=check, timeout=300)


def ml_file(run_dir: Path, kind: str, stamp=START) -> netCDF4.Dataset:
    return netCDF4.Dataset(run_dir / "out" / "0001-02" / f"E3SM-MMF.{kind}.{stamp}.nc")


def between(values: np.ndarray, quantile: float) -> float:
    """A threshold halfway between two neighbouring distinct values near the quantile, so
    that no column sits on it."""
    v = np.unique(values)
    k = int(quantile * (v.size - 1))
    return float(0.5 * (v[k] + v[k + 1]))


def _stats(lo: np.ndarray, hi: np.ndarray) -> dict:
    return {
        "min": lo.tolist(),
        "max": hi.tolist(),
        "mean": ((lo + hi) / 2).tolist(),
        "std": ((hi - lo) / 4).tolist(),
    }


@pytest.fixture(scope="module")
def narrowed(ml_host_exe, tmp_path_factory):
    """(model path, initial inputs, the columns out of range at the first step)."""
    d = tmp_path_factory.mktemp("guard")
    run(ml_host_exe, d / "initial")
    with ml_file(d / "initial", "mli") as f:
        t_lowest = np.asarray(f["state_t"][:])[T_LOWEST]
        ps = np.asarray(f["state_ps"][:]).reshape(-1)
    t_max = between(t_lowest, 0.7)
    ps_min = between(ps, 0.2)
    lo, hi = np.full(124, -WIDE), np.full(124, WIDE)
    hi[T_LOWEST] = t_max
    lo[PS] = ps_min
    training = {"x": _stats(lo, hi), "y": _stats(np.full(128, -WIDE), np.full(128, WIDE))}
    model = ml_fixtures.make("relax_v1", d / "narrowed.pt", CLIMSIM, training=training)
    out = (t_lowest > t_max) | (ps < ps_min)
    assert 0 < out.sum() < out.size
    return model, out


def test_fallback_exactly_on_the_columns_out_of_range(host_exe, narrowed, tmp_path):
    model, out = narrowed
    guarded = run(
        host_exe,
        tmp_path / "guard",
        physics_mode="ml",
        model_path=str(model),
        ml_guard="fallback",
        ml_guard_margin=0.0,
    )
    run(host_exe, tmp_path / "ml", physics_mode="ml", model_path=str(model))
    run(host_exe, tmp_path / "conv")
    (row,) = log_rows(guarded.stdout)
    assert int(row[GUARDED_COLUMN]) == out.sum() and int(row[10]) == out.sum(), row

    with ml_file(tmp_path / "guard", "mli") as a, ml_file(tmp_path / "ml", "mli") as b:
        for name in a.variables:
            np.testing.assert_array_equal(np.asarray(a[name][:]), np.asarray(b[name][:]), err_msg=name)
    with (
        ml_file(tmp_path / "guard", "mlo") as g,
        ml_file(tmp_path / "ml", "mlo") as m,
        ml_file(tmp_path / "conv", "mlo") as c,
    ):
        compared = 0
        for name, var in g.variables.items():
            if var.dimensions[-1:] != ("ncol",):
                continue
            x_g, x_m, x_c = (np.asarray(f[name][:]) for f in (g, m, c))
            np.testing.assert_array_equal(x_g[..., out], x_c[..., out], err_msg=f"{name}: guarded columns")
            np.testing.assert_array_equal(x_g[..., ~out], x_m[..., ~out], err_msg=f"{name}: columns in range")
            compared += 1
        # The emulator and the conventional physics differ, so the comparison can tell them apart.
        assert not np.array_equal(np.asarray(m["state_t"][:]), np.asarray(c["state_t"][:]))
        assert compared >= 4
    (hist,) = (tmp_path / "guard" / "out").glob("*.h0.*.nc")
    with netCDF4.Dataset(hist) as h:
        np.testing.assert_array_equal(np.asarray(h["guarded_fraction"][:]).reshape(-1), out.astype(float))


def test_guard_same_on_1_2_and_3_ranks(host_exe, narrowed, tmp_path):
    model, _ = narrowed
    counts = {}
    for n in (1, 2, 3):
        proc = run(
            host_exe,
            tmp_path / f"n{n}",
            nranks=n,
            physics_mode="ml",
            model_path=str(model),
            ml_guard="fallback",
            ml_guard_margin=0.0,
            stop_n=STEPS_PER_DAY // 4,
            mli_interval_steps=6,
            history_interval_steps=6,
        )
        counts[n] = [int(r[GUARDED_COLUMN]) for r in log_rows(proc.stdout)]
    assert counts[1] == counts[2] == counts[3] and sum(counts[1]) > 0, counts
    files = nc_files(tmp_path / "n1" / "out")
    assert files == nc_files(tmp_path / "n2" / "out") == nc_files(tmp_path / "n3" / "out")
    for f in files:
        for n in (2, 3):
            assert_same_netcdf(tmp_path / "n1" / "out" / f, tmp_path / f"n{n}" / "out" / f)


def test_clip_keeps_the_emulator_and_counts_the_columns(host_exe, narrowed, tmp_path):
    model, out = narrowed
    proc = run(
        host_exe, tmp_path, physics_mode="ml", model_path=str(model), ml_guard="clip", ml_guard_margin=0.0
    )
    (row,) = log_rows(proc.stdout)
    assert int(row[GUARDED_COLUMN]) == out.sum() and int(row[10]) == 0, row


def test_guard_without_training_ranges_keeps_the_engines_reason(host_exe, narrowed, tmp_path):
    plain = ml_fixtures.make("relax_v1", tmp_path / "plain.pt", CLIMSIM)
    proc = run(host_exe, tmp_path, physics_mode="ml", model_path=str(plain), ml_guard="fallback", check=False)
    assert proc.returncode != 0
    assert "plain.pt" in proc.stderr and "has none in the manifest" in proc.stderr, proc.stderr


def test_ml_options_reach_the_engine(host_exe, narrowed, tmp_path):
    model, _ = narrowed
    proc = run(
        host_exe,
        tmp_path,
        physics_mode="ml",
        model_path=str(model),
        ml_options="guard_margin=-2",
        ml_guard="fallback",
        check=False,
    )
    assert proc.returncode != 0 and "option guard_margin: value '-2'" in proc.stderr, proc.stderr
