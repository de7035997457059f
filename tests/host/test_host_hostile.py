"""Hostile inputs and faults against hybridge-host (issue 12, the host's part): each case is
a careless or unlucky user's input, and each must end in a non-zero exit status with a
message naming the problem (or, for the cases the host repairs, a clean run with a note).

Restart files carry a SHA-256 of their data (fortran/host/host_checksum.f90). Cases that test
the plausibility checks behind the checksum rewrite a good restart with one value changed and
sign it again with :func:`sign`, which recomputes the checksum from its documented definition;
cases that test the checksum itself change bytes without signing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from conftest import assert_same_netcdf, run_host, write_namelist

LONG = "d" * 600  # longer than any path key allows (512)


# ---- restart files: copy, change, sign ----------------------------------------------------


def sign(path: Path) -> None:
    """Set the 'sha256' attribute of a restart file from its data: for every variable in file
    order, its name, a NUL, then its values in storage order as little-endian bytes."""
    with netCDF4.Dataset(path, "r+") as d:
        d.set_auto_mask(False)
        h = hashlib.sha256()
        for name, v in d.variables.items():
            a = np.asarray(v[...])
            h.update(name.encode() + b"\0" + a.astype(a.dtype.newbyteorder("<")).tobytes())
        d.setncattr("sha256", h.hexdigest())


def rewrite(src: Path, dst: Path, changes: dict | None = None, drop: tuple = (), signed: bool = True) -> Path:
    """Copy restart src to dst variable by variable, applying changes[name](array) -> array,
    leaving out the variables in drop; sign the copy unless signed is False."""
    changes = changes or {}
    with netCDF4.Dataset(src) as s, netCDF4.Dataset(dst, "w", format="NETCDF4") as d:
        s.set_auto_mask(False)
        for name, dim in s.dimensions.items():
            d.createDimension(name, len(dim))
        d.setncatts({k: s.getncattr(k) for k in s.ncattrs() if k != "sha256"})
        for name, v in s.variables.items():
            if name in drop:
                continue
            out = d.createVariable(name, v.dtype, v.dimensions)
            out.setncatts({k: v.getncattr(k) for k in v.ncattrs()})
            a = np.array(v[...])
            out[...] = changes[name](a) if name in changes else a
    if signed:
        sign(dst)
    return dst


def set_at(index, value):
    def change(a):
        a[index] = value
        return a

    return change


@pytest.fixture(scope="module")
def good_restart(host_exe, tmp_path_factory) -> Path:
    """A restart file written by the host after 2 steps."""
    run_dir = tmp_path_factory.mktemp("good")
    nml = write_namelist(
        run_dir / "atm_in", stop_option="nsteps", stop_n=2, history_interval_steps=0, output_dir="out"
    )
    run_host(host_exe, nml, 1, timeout=120)
    (restart,) = (run_dir / "out").glob("*.r.*.nc")
    return restart


def flip_bytes(src: Path, dst: Path, where: str) -> Path:
    """64 bytes inverted: in the data of state_t (found by its first value's bytes), or at
    the start of the file (the HDF5 superblock)."""
    data = bytearray(src.read_bytes())
    if where == "data":
        with netCDF4.Dataset(src) as d:
            first = np.asarray(d["state_t"][...]).astype("<f8").tobytes()[:16]
        at = data.index(first)
    else:
        at = 0
    for i in range(at, at + 64):
        data[i] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


def edited_keeping_checksum(good: Path, path: Path) -> Path:
    """Every temperature 1 K warmer, the good file's checksum kept."""
    rewrite(good, path, {"state_t": lambda a: a + 1.0}, signed=False)
    with netCDF4.Dataset(good) as g, netCDF4.Dataset(path, "r+") as b:
        b.setncattr("sha256", g.getncattr("sha256"))
    return path


# Each restart case: how to make the bad file from a good one, and what the host must say.
RESTART_CASES = {
    "flipped data bytes": (lambda g, p: flip_bytes(g, p, "data"), "fails its SHA-256 checksum"),
    "flipped header bytes": (lambda g, p: flip_bytes(g, p, "header"), "cannot be read"),
    "truncated file": (
        lambda g, p: p.write_bytes(g.read_bytes()[: g.stat().st_size // 2]) and p,
        "cannot be read",
    ),
    "not a netCDF file": (lambda g, p: p.write_text("restart\n") and p, "cannot be read"),
    "no checksum": (lambda g, p: rewrite(g, p, signed=False), "has no SHA-256 checksum"),
    "values edited, checksum kept": (edited_keeping_checksum, "fails its SHA-256 checksum"),
    "negative humidity": (
        lambda g, p: rewrite(g, p, {"state_q0001": set_at((10, 5), -1.0e-3)}),
        "variable 'state_q0001' holds negative humidity -1.00000E-03 at column 6, level 11",
    ),
    "negative humidity in the history sums": (
        lambda g, p: rewrite(g, p, {"hist_sum_state_q0001": set_at((0, 0), -2.0e-3)}),
        "variable 'hist_sum_state_q0001' holds negative humidity",
    ),
    "NaN temperature": (
        lambda g, p: rewrite(g, p, {"state_t": set_at((3, 17), np.nan)}),
        "variable 'state_t' holds NaN at column 18, level 4",
    ),
    "infinite history sum": (
        lambda g, p: rewrite(g, p, {"hist_sum_ptend_t": set_at((59, 383), np.inf)}),
        "variable 'hist_sum_ptend_t' holds Infinity at column 384, level 60",
    ),
    "impossible temperature": (
        lambda g, p: rewrite(g, p, {"state_t": set_at((0, 0), 1000.0)}),
        "variable 'state_t' holds a temperature of  1.00000E+03 K, outside [150.0, 350.0] K at column 1",
    ),
    "zero surface pressure": (
        lambda g, p: rewrite(g, p, {"state_ps": set_at(7, 0.0)}),
        "variable 'state_ps' holds a surface pressure of 0.00000E+00 Pa at column 8",
    ),
    "month 13": (
        lambda g, p: rewrite(g, p, {"start_month": lambda a: np.array(13, a.dtype)}),
        "start date (start_year, start_month, start_day, start_tod) = '1-13-1 0 s' is not a date",
    ),
    "30 February": (
        lambda g, p: rewrite(g, p, {"start_day": lambda a: np.array(30, a.dtype)}),
        "= '1-2-30 0 s' is not a date",
    ),
    "time of day beyond midnight": (
        lambda g, p: rewrite(g, p, {"start_tod": lambda a: np.array(86400, a.dtype)}),
        "= '1-2-1 86400 s' is not a date",
    ),
    "year 0": (
        lambda g, p: rewrite(g, p, {"start_year": lambda a: np.array(0, a.dtype)}),
        "= '0-2-1 0 s' is not a date",
    ),
    "negative step counter": (
        lambda g, p: rewrite(g, p, {"nstep": lambda a: np.array(-5, a.dtype)}),
        "variable 'nstep' = -5 is negative",
    ),
    "negative sample count": (
        lambda g, p: rewrite(g, p, {"hist_nsamples": lambda a: np.array(-1, a.dtype)}),
        "variable 'hist_nsamples' = -1 is negative",
    ),
    "negative fallback count": (
        lambda g, p: rewrite(g, p, {"n_fallback_total": lambda a: np.array(-7, a.dtype)}),
        "variable 'n_fallback_total' = -7 is negative",
    ),
    "variable missing": (
        lambda g, p: rewrite(g, p, drop=("state_t",)),
        "variable 'state_t': NetCDF: Variable not found",
    ),
    "step counter near the end of year 9999": (
        # 10 steps before 9999-12-31 24:00 (from 0001-02-01); a day is 72 steps.
        lambda g, p: rewrite(g, p, {"nstep": lambda a: np.array((9999 * 365 - 31) * 72 - 10, a.dtype)}),
        "namelist key stop_n = 1 (stop_option = 'ndays'): the run would end after 9999-12-31",
    ),
}


@pytest.mark.parametrize("case", list(RESTART_CASES), ids=list(RESTART_CASES))
def test_bad_restart_is_refused(host_exe, good_restart, tmp_path, case):
    make, expected = RESTART_CASES[case]
    bad = tmp_path / "bad.r.nc"
    make(good_restart, bad)
    nml = write_namelist(tmp_path / "atm_in", stop_n=1, restart_file=str(bad), output_dir="out")
    proc = run_host(host_exe, nml, 1, check=False, timeout=60)
    assert proc.returncode != 0, proc.stdout
    assert expected in proc.stderr, proc.stderr
    assert f"'{bad}'" in proc.stderr or "stop_n" in expected, "the message names the file"
    assert not list((tmp_path / "out").glob("*.r.*.nc")) if (tmp_path / "out").exists() else True


def test_bad_restart_stops_every_rank_with_one_message(host_exe, good_restart, tmp_path):
    bad = rewrite(good_restart, tmp_path / "bad.r.nc", {"state_q0001": set_at((0, 200), -1.0)})
    nml = write_namelist(tmp_path / "atm_in", stop_n=1, restart_file=str(bad), output_dir="out")
    proc = run_host(host_exe, nml, 3, check=False, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.count("hybridge-host: error:") == 1, proc.stderr
    assert "variable 'state_q0001' holds negative humidity -1.00000E+00 at column 201, level 1" in proc.stderr


def test_restart_signed_by_the_definition_is_accepted(host_exe, good_restart, tmp_path):
    """The counterpart of the cases above: a rewritten but plausible restart, signed by
    :func:`sign`, is accepted, so the refusals are about the values, not the rewriting."""
    ok = rewrite(good_restart, tmp_path / "ok.r.nc")
    nml = write_namelist(
        tmp_path / "atm_in", stop_option="nsteps", stop_n=1, restart_file=str(ok), output_dir="out"
    )
    proc = run_host(host_exe, nml, 1, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "done, 1 steps" in proc.stdout


# ---- namelist values ----------------------------------------------------------------------

NAMELIST_CASES = {
    "stop_n beyond int32 in steps": (
        "stop_option = 'nsteps'\n  stop_n = 3000000000",
        "namelist key stop_n = 3000000000 (stop_option = 'nsteps'): the run would end after 9999-12-31",
    ),
    "stop_n days whose steps overflow int32": (
        "stop_option = 'ndays'\n  stop_n = 30000000",
        "namelist key stop_n = 30000000 (stop_option = 'ndays'): the run would end after 9999-12-31",
    ),
    "stop_n days whose steps overflow int64": (
        "stop_option = 'ndays'\n  stop_n = 9000000000000000000",
        "namelist key stop_n = 9000000000000000000 (stop_option = 'ndays'): the run would end after",
    ),
    "stop_n beyond int64": ("stop_n = 99999999999999999999", "'stop_n = 99999999999999999999'"),
    "stop_n zero": ("stop_n = 0", "namelist key stop_n = 0 < 1 (out of range)"),
    "stop_n negative beyond int32": ("stop_n = -3000000000", "namelist key stop_n = -3000000000 < 1"),
    "run past year 9999": (
        "start_date = '9999-12-31'\n  stop_n = 2",
        "namelist key stop_n = 2 (stop_option = 'ndays'): the run would end after 9999-12-31",
    ),
    "output_dir too long": (f"output_dir = '{LONG}'", "namelist key output_dir: value 'dddd"),
    "restart_file too long": (f"restart_file = '{LONG}'", "namelist key restart_file: value"),
    "model_path too long": (f"model_path = '{LONG}'", "namelist key model_path: value"),
    "climsim_dir too long": (f"climsim_dir = '{LONG}'", "namelist key climsim_dir: value"),
    "case_name too long": (f"case_name = '{'c' * 65}'", "namelist key case_name: value"),
    "physics_mode too long": ("physics_mode = 'conventional_plus'", "namelist key physics_mode: value"),
    "device too long": (f"device = 'cuda:{'0' * 40}'", "namelist key device: value"),
    "ml_variables entry too long": (f"ml_variables = '{'v' * 33}'", "namelist key ml_variables: value"),
    # The dynamics (issue 14).
    "unknown dynamics": (
        "dynamics = 'finite_volume'",
        "dynamics = 'finite_volume': expected one of 'none' 'spectral'",
    ),
    "unknown truncation": (
        "dynamics = 'spectral'\n  truncation = 'T99'",
        "namelist key truncation = 'T99': not a truncation of the spectral core; "
        "expected one of T21 T31 T42 T63 T85",
    ),
    "truncation not T<N>": ("dynamics = 'spectral'\n  truncation = '42'", "namelist key truncation = '42'"),
    "time step beyond the CFL limit": (
        "dynamics = 'spectral'\n  truncation = 'T85'\n  dyn_timestep = 1200",
        "namelist key dyn_timestep = 1200 s: beyond the CFL limit of 745 s for T85 "
        "(a/(u_max sqrt(N(N+1))) with u_max = 100 m/s)",
    ),
    "time step not dividing the physics step": (
        "dynamics = 'spectral'\n  dyn_timestep = 700",
        "namelist key dyn_timestep = 700 s: must divide the physics time step of 1200 s",
    ),
    "negative time step": (
        "dynamics = 'spectral'\n  dyn_timestep = -600",
        "namelist key dyn_timestep = -600",
    ),
    "hyperdiffusion time not positive": (
        "dynamics = 'spectral'\n  dyn_diffusion_time = 0",
        "namelist key dyn_diffusion_time = 0",
    ),
    "hyperdiffusion time NaN": (
        "dynamics = 'spectral'\n  dyn_diffusion_time = NaN",
        "namelist key dyn_diffusion_time = NaN",
    ),
    "level count the core cannot take": (
        "dynamics = 'spectral'\n  nlev = 45",
        "namelist key nlev = 45: the spectral core takes 60 (the ClimSim levels) or 30, 20, 15, 12, 10",
    ),
    "fewer levels without dynamics": (
        "nlev = 30",
        "namelist key nlev = 30: dynamics = 'none' runs on the ClimSim",
    ),
    "Held-Suarez without dynamics": (
        "physics_package = 'held_suarez'",
        "physics_package = 'held_suarez': needs dynamics = 'spectral'",
    ),
    "Held-Suarez with an emulator": (
        "dynamics = 'spectral'\n  physics_package = 'held_suarez'\n"
        "  physics_mode = 'ml'\n  model_path = 'm.pt'",
        "physics_package = 'held_suarez': the dry forcing has no emulator",
    ),
    "unknown physics package": (
        "physics_package = 'dry'",
        "physics_package = 'dry': expected one of 'moist'",
    ),
    "unknown vertical levels": (
        "dynamics = 'spectral'\n  vertical_levels = 'eta'",
        "namelist key vertical_levels = 'eta': expected one of 'climsim' 'sigma'",
    ),
    "sigma levels under the moist physics": (
        "dynamics = 'spectral'\n  vertical_levels = 'sigma'\n  nlev = 20",
        "namelist key vertical_levels = 'sigma': only for physics_package = 'held_suarez'",
    ),
    "sigma levels, absurd count": (
        "dynamics = 'spectral'\n  physics_package = 'held_suarez'\n"
        "  vertical_levels = 'sigma'\n  nlev = 100000",
        "namelist key nlev = 100000: vertical_levels = 'sigma' takes 2 to 200 levels",
    ),
}


@pytest.mark.parametrize("case", list(NAMELIST_CASES), ids=list(NAMELIST_CASES))
def test_bad_namelist_value_is_named(host_exe, tmp_path, case):
    body, expected = NAMELIST_CASES[case]
    nml = tmp_path / "atm_in"
    nml.write_text(f"&hybridge_nl\n  {body}\n/\n")
    proc = run_host(host_exe, nml, 1, check=False, timeout=60)
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr
    if "too long" in case:
        assert "characters" in proc.stderr and "longer than" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def spectral_restart(host_exe, tmp_path_factory) -> Path:
    """A restart file of the spectral core, T21 on 20 levels, after 1 step."""
    run_dir = tmp_path_factory.mktemp("spectral")
    nml = write_namelist(
        run_dir / "atm_in",
        dynamics="spectral",
        truncation="T21",
        nlev=20,
        stop_option="nsteps",
        stop_n=1,
        history_interval_steps=0,
        output_dir="out",
    )
    run_host(host_exe, nml, 1, timeout=120)
    (restart,) = (run_dir / "out").glob("*.r.*.nc")
    return restart


MISMATCH_CASES = {
    "spectral restart, no dynamics": (
        "spectral",
        {},
        "was written with dynamics = 'spectral'; this run has dynamics = 'none' (namelist key dynamics)",
    ),
    "no-dynamics restart, spectral run": (
        "none",
        {"dynamics": "spectral", "truncation": "T21", "nlev": 20},
        "was written with dynamics = 'none'; this run has dynamics = 'spectral' (namelist key dynamics)",
    ),
    "other truncation": (
        "spectral",
        {"dynamics": "spectral", "truncation": "T42", "nlev": 20},
        "was written with truncation = 'T21'; this run has truncation = 'T42' (namelist key truncation)",
    ),
    "other level count": (
        "spectral",
        {"dynamics": "spectral", "truncation": "T21", "nlev": 30},
        "has 20 levels; this run has nlev = 30 (namelist key nlev)",
    ),
    "other vertical levels": (
        "spectral",
        {
            "dynamics": "spectral",
            "truncation": "T21",
            "nlev": 20,
            "vertical_levels": "sigma",
            "physics_package": "held_suarez",
        },
        "was written with vertical_levels = 'climsim'; this run has vertical_levels = 'sigma' "
        "(namelist key vertical_levels)",
    ),
}


@pytest.mark.parametrize("case", list(MISMATCH_CASES), ids=list(MISMATCH_CASES))
def test_restart_from_other_dynamics_is_refused(host_exe, good_restart, spectral_restart, tmp_path, case):
    kind, keys, expected = MISMATCH_CASES[case]
    restart = spectral_restart if kind == "spectral" else good_restart
    nml = write_namelist(tmp_path / "atm_in", stop_n=1, restart_file=str(restart), output_dir="out", **keys)
    proc = run_host(host_exe, nml, 2, check=False, timeout=60)
    assert proc.returncode != 0
    assert f"restart file '{restart}' " in proc.stderr and expected in proc.stderr, proc.stderr
    assert proc.stderr.count("hybridge-host: error:") == 1


def test_long_namelist_path_is_not_cut(host_exe, tmp_path):
    """A namelist path of more than 1024 characters (the old command-line buffer) runs."""
    deep = tmp_path
    while len(str(deep)) < 1100:
        deep = deep / ("x" * 200)
    deep.mkdir(parents=True)
    nml = write_namelist(deep / "atm_in", stop_option="nsteps", stop_n=1, output_dir="out")
    proc = run_host(host_exe, nml, 1, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "done, 1 steps" in proc.stdout


def test_long_climsim_dir_from_environment_is_not_cut(host_exe, tmp_path, monkeypatch):
    """$HYBRIDGE_CLIMSIM_DIR longer than any buffer is taken whole: the error names all of it."""
    long_dir = "/nonexistent/" + "/".join(["y" * 200] * 25) + "/end_of_the_path"
    monkeypatch.setenv("HYBRIDGE_CLIMSIM_DIR", long_dir)
    nml = write_namelist(tmp_path / "atm_in", stop_n=1, output_dir="out")
    proc = run_host(host_exe, nml, 1, check=False, timeout=60)
    assert proc.returncode != 0
    assert "end_of_the_path/ClimSim_low-res_grid-info.nc': open for reading" in proc.stderr, proc.stderr


# ---- output folder, disk full, stale files, kill -9 ----------------------------------------


def test_output_dir_that_is_a_file(host_exe, tmp_path):
    (tmp_path / "out").write_text("not a folder\n")
    nml = write_namelist(tmp_path / "atm_in", stop_n=1, output_dir="out")
    proc = run_host(host_exe, nml, 1, check=False, timeout=60)
    assert proc.returncode != 0
    assert "cannot create folder 'out': Not a directory" in proc.stderr, proc.stderr


def test_output_dir_that_cannot_be_created(host_exe, tmp_path):
    nml = write_namelist(tmp_path / "atm_in", stop_n=1, output_dir="/proc/hybridge/out")
    proc = run_host(host_exe, nml, 1, check=False, timeout=60)
    assert proc.returncode != 0
    assert "cannot create folder '/proc/hybridge/out': No such file or directory" in proc.stderr, proc.stderr


def _unshare_works() -> bool:
    probe = subprocess.run(
        ["unshare", "-r", "-m", "sh", "-c", "mount -t tmpfs -o size=64k none /mnt 2>/dev/null || exit 7"],
        capture_output=True,
    )
    return probe.returncode == 0


def test_disk_full_is_named(host_exe, tmp_path):
    """The output folder on a 256 KiB file system (a tmpfs mounted in a private mount
    namespace): the first .mli file does not fit."""
    if shutil.which("unshare") is None or not _unshare_works():
        pytest.skip("needs unshare -r -m (user and mount namespaces) to mount a small tmpfs")
    full = tmp_path / "full"
    full.mkdir()
    nml = write_namelist(tmp_path / "atm_in", stop_n=1, mli_interval_steps=1, output_dir=str(full))
    env = dict(
        os.environ,
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
    )
    script = f"mount -t tmpfs -o size=256k none {full} && exec mpirun -n 1 --oversubscribe {host_exe} {nml}"
    proc = subprocess.run(
        ["unshare", "-r", "-m", "sh", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert (
        f"no space left on device writing '{full}/0001-02/E3SM-MMF.mli.0001-02-01-00000.nc'" in proc.stderr
    ), proc.stderr
    assert "the incomplete" in proc.stderr and "was removed" in proc.stderr


def test_stale_temporary_files_are_removed_with_a_note(host_exe, tmp_path):
    out = tmp_path / "out"
    (out / "0001-01").mkdir(parents=True)
    stale = [
        out / "E3SM-MMF.r.0001-01-05-00000.nc.tmp",
        out / "0001-01" / "E3SM-MMF.mli.0001-01-05-01200.nc.tmp",
    ]
    other_case = out / "other.r.0001-01-05-00000.nc.tmp"
    for p in [*stale, other_case]:
        p.write_bytes(b"\x89HDF incomplete")
    nml = write_namelist(tmp_path / "atm_in", stop_option="nsteps", stop_n=1, output_dir="out")
    proc = run_host(host_exe, nml, 1, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for p in stale:
        assert not p.exists()
        rel = p.relative_to(tmp_path)
        assert (
            f"note: removed stale temporary file '{rel}' (left incomplete by an interrupted run)"
            in proc.stdout
        )
    assert other_case.exists(), "another case's files are not touched"


def kill_session(sid: int) -> None:
    """SIGKILL every process of session sid (mpirun and the ranks it started, which Open MPI
    may put in process groups of their own)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # after the command: state, ppid, pgrp, session
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(stat.parent.name), signal.SIGKILL)


def test_kill_during_restart_write_then_restart_from_the_previous_one(host_exe, tmp_path):
    """kill -9 while a restart file is being written (its .tmp exists), then continue from the
    newest complete restart: the continuation ends bit for bit where a straight run ends."""
    steps = 120
    common = {
        "stop_option": "nsteps",
        "history_interval_steps": 0,
        "restart_interval_steps": 1,
        "log_interval_steps": 40,
    }
    straight = tmp_path / "straight"
    straight.mkdir()
    run_host(host_exe, write_namelist(straight / "atm_in", stop_n=steps, output_dir="out", **common), 1)

    env = dict(
        os.environ,
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
    )
    for attempt in range(5):
        run = tmp_path / f"killed{attempt}"
        out = run / "out"
        out.mkdir(parents=True)
        nml = write_namelist(run / "atm_in", stop_n=steps, output_dir="out", **common)
        proc = subprocess.Popen(
            ["mpirun", "-n", "1", "--oversubscribe", str(host_exe), str(nml)],
            cwd=run,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        seen = None
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            complete = list(out.glob("*.r.*.nc"))
            tmps = list(out.glob("*.r.*.nc.tmp"))
            if len(complete) >= 3 and tmps:
                kill_session(proc.pid)
                seen = tmps[0]
                break
        proc.wait(timeout=30)
        if seen is not None and seen.exists():
            break
    else:
        pytest.fail("could not kill the host while a restart file was being written in 5 attempts")

    good = sorted(out.glob("*.r.*.nc"))
    assert good, "the previous restart files survive"
    newest = good[-1]
    with netCDF4.Dataset(newest) as d:
        done = int(d["nstep"][...])
    cont = write_namelist(
        run / "atm_in2", stop_n=steps - done, output_dir="out", restart_file=str(newest), **common
    )
    proc2 = run_host(host_exe, cont, 1, timeout=120)
    assert f"removed stale temporary file 'out/{seen.name}'" in proc2.stdout
    final = sorted((straight / "out").glob("*.r.*.nc"))[-1]
    assert_same_netcdf(final, out / final.name)
    assert not list(out.glob("*.tmp"))
