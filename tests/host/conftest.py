"""Shared helpers for the hybridge-host tests: find the executable, write a namelist,
run it under mpirun, compare netCDF files variable by variable."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from hybridge.data.climsim import climsim_dir

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("HYBRIDGE_BUILD", REPO / "build"))
HOST = BUILD / "bin" / "hybridge-host"
CLIMSIM = climsim_dir()  # the files shipped in the package, or $HYBRIDGE_CLIMSIM_DIR
STEPS_PER_DAY = 72


@pytest.fixture(scope="session")
def host_exe() -> Path:
    if not HOST.exists():
        pytest.skip(f"{HOST} not built (set HYBRIDGE_BUILD to the build folder)")
    return HOST


@pytest.fixture(scope="session")
def ml_host_exe(host_exe, tmp_path_factory) -> Path:
    """host_exe for the tests that couple an emulator: skipped when hybridge-host was built
    without the hybridge library (its ml mode then refuses to start)."""
    d = tmp_path_factory.mktemp("ml_probe")
    probe = write_namelist(d / "probe_in", physics_mode="ml", model_path=str(d / "none.pt"), stop_n=1)
    if "built without" in run_host(host_exe, probe, check=False, timeout=60).stderr:
        pytest.skip("hybridge-host was built without the hybridge library")
    return host_exe


def write_namelist(path: Path, **keys) -> Path:
    """&hybridge_nl with the given keys; strings are quoted, bools become .true./.false."""
    lines = ["&hybridge_nl"]
    for k, v in keys.items():
        if isinstance(v, bool):
            v = ".true." if v else ".false."
        elif isinstance(v, str):
            v = f"'{v}'"
        elif isinstance(v, (list, tuple)):
            v = ", ".join(f"'{x}'" for x in v)
        lines.append(f"  {k} = {v}")
    lines.append("/")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_host(
    exe: Path, namelist: Path, nranks: int = 1, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
    )
    cmd = ["mpirun", "-n", str(nranks), "--oversubscribe", str(exe), str(namelist)]
    proc = subprocess.run(cmd, cwd=namelist.parent, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def nc_files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*.nc"))


def assert_same_netcdf(a: Path, b: Path) -> None:
    """Same variables, dimensions and values, bit for bit."""
    with netCDF4.Dataset(a) as da, netCDF4.Dataset(b) as db:
        assert set(da.variables) == set(db.variables), f"{a} vs {b}: variables differ"
        for name, va in da.variables.items():
            vb = db.variables[name]
            assert va.dimensions == vb.dimensions, f"{a.name}:{name}: dims {va.dimensions} vs {vb.dimensions}"
            xa, xb = np.asarray(va[...]), np.asarray(vb[...])
            assert xa.tobytes() == xb.tobytes(), (
                f"{a.name}: variable {name} differs (max |diff| {np.max(np.abs(xa - xb))})"
            )


def log_rows(stdout: str) -> list[list[str]]:
    """The per-step log lines (those starting with a step number)."""
    return [ln.split() for ln in stdout.splitlines() if ln.strip() and ln.split()[0].isdigit()]
