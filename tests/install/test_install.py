"""Installing hybridge the ways its users do, then using it with nothing set in the environment.

- ``pip install`` of the wheel into a fresh virtual environment that has only the pinned torch:
  the ``hybridge`` command, the engine through the Python bindings, ``python -m hybridge
  --cmake-dir`` and a CMake consumer built against the package, with no HYBRIDGE_* variable.
- A moved ``cmake --install`` prefix: ``hybridge-host`` still finds its libraries and its
  ClimSim files (the consumers built against a moved prefix by CMake, pkg-config and a plain
  Makefile are the ctest ``fortran.consumer_examples``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hybridge.install import build_dir
from hybridge.testing.models import make_mlp_v1

REPO = Path(__file__).resolve().parents[2]


def _clean_env(**extra) -> dict:
    """The environment of a user who set nothing: no HYBRIDGE_*, no library or prefix paths."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HYBRIDGE_", "SKBUILD_")) and k not in
           ("LD_LIBRARY_PATH", "CMAKE_PREFIX_PATH", "PKG_CONFIG_PATH", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def _run(cmd, timeout=600, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n" \
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel `pip install .` makes. Under `make test` it reuses the build folder
    (SKBUILD_BUILD_DIR/SKBUILD_CMAKE_DEFINE are set by the Makefile), so it only repackages."""
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, REPO],
         timeout=1800)
    (found,) = dist.glob("hybridge-*.whl")
    return found


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, wheel) -> Path:
    """A new virtual environment: the pinned torch first (as the README says), then the wheel."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    _run([sys.executable, "-m", "venv", venv], env=_clean_env())
    pip = venv / "bin" / "pip"
    _run([pip, "install", "-q", "torch==2.13.0"], env=_clean_env())
    _run([pip, "install", "-q", wheel], env=_clean_env())
    return venv


def test_pip_install_gives_a_working_command_and_engine(fresh_venv, tmp_path):
    model = tmp_path / "mlp.pt"
    make_mlp_v1(model, hidden=(16,))
    env = _clean_env()
    bindir = fresh_venv / "bin"
    library = _run([bindir / "hybridge", "config", "--library"], env=env, cwd=tmp_path).stdout.strip()
    assert library.startswith(str(fresh_venv)) and library.endswith("libhybridge.so"), library
    # the engine through the C ABI, from the installed package alone
    script = ("import numpy as np; from hybridge.core import Model\n"
              f"with Model({str(model)!r}) as m:\n"
              "    y = m.run({'x': np.zeros((3, 124))})['y']\n"
              "print(y.shape, m.handle > 0)")
    out = _run([bindir / "python", "-c", script], env=env, cwd=tmp_path).stdout
    assert "(3, 128) True" in out
    inspected = _run([bindir / "hybridge", "inspect", model], env=env, cwd=tmp_path).stdout
    assert "124" in inspected and "128" in inspected
    # the ClimSim files ship in the package
    grid = _run([bindir / "python", "-c", "from hybridge.data.climsim import load_grid; print(load_grid().ncol)"],
                env=env, cwd=tmp_path).stdout
    assert grid.strip() == "384"


def test_cmake_consumer_builds_against_the_pip_installed_package(fresh_venv, tmp_path):
    env = _clean_env()
    cmake_dir = _run([fresh_venv / "bin" / "python", "-m", "hybridge", "--cmake-dir"], env=env).stdout.strip()
    assert Path(cmake_dir, "hybridgeConfig.cmake").is_file()
    model = tmp_path / "mlp.pt"
    make_mlp_v1(model, hidden=(16,))
    build = tmp_path / "build"
    _run(["cmake", "-S", REPO / "examples" / "01_mlp_forward", "-B", build, f"-Dhybridge_DIR={cmake_dir}"], env=env)
    _run(["cmake", "--build", build], env=env)
    out = _run([build / "mlp_forward", model], env=env).stdout
    assert "124 inputs -> 128 outputs, ok" in out
    # the Makefile flags from the command line
    flags = _run([fresh_venv / "bin" / "hybridge", "config", "--fflags", "--libs"], env=env).stdout.split("\n")
    assert flags[0] == f"-I{Path(cmake_dir).parents[2]}/include/hybridge"
    assert "-lhybridge" in flags[1]


def test_moved_install_prefix_runs_the_host_with_its_own_climsim_files(tmp_path):
    installed, moved = tmp_path / "installed", tmp_path / "elsewhere" / "hybridge"
    _run(["cmake", "--install", build_dir(), "--prefix", installed])
    moved.parent.mkdir()
    shutil.move(installed, moved)
    host = moved / "bin" / "hybridge-host"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "one_step.nml").write_text("&hybridge_nl\n stop_option = 'nsteps'\n stop_n = 1\n"
                                          " output_dir = 'out'\n/\n")
    env = _clean_env(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    out = _run(["mpirun", "-n", "1", host, "one_step.nml"], env=env, cwd=run_dir, timeout=120).stdout
    assert "hybridge-host: done, 1 steps" in out
    assert f"ClimSim files in {moved}/bin/../share/hybridge/climsim" in out
    assert not (installed / "lib").exists()
