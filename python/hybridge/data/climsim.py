"""The real ClimSim reference files: grid (hyai, hybi, lat, area) and normalization statistics.

Located through env ``HYBRIDGE_CLIMSIM_DIR``, else the copy shipped inside this package
(``hybridge/data/climsim_reference``, Apache-2.0, see the README there).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import netCDF4
import numpy as np

from .variables import VariableSet

P0 = 1.0e5  # Pa, reference pressure of the hybrid coordinate


def climsim_dir() -> Path:
    """Folder of the ClimSim grid and normalization files: ``$HYBRIDGE_CLIMSIM_DIR``, else
    the copy shipped in the package."""
    env = os.environ.get("HYBRIDGE_CLIMSIM_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "climsim_reference"


def _open(name: str) -> netCDF4.Dataset:
    path = climsim_dir() / name
    if not path.exists():
        raise FileNotFoundError(f"ClimSim reference file not found: {path} (set HYBRIDGE_CLIMSIM_DIR)")
    return netCDF4.Dataset(path)


@dataclasses.dataclass(frozen=True)
class Grid:
    """E3SM-MMF low-resolution grid: 384 columns, 60 levels (index 0 = model top)."""

    lat: np.ndarray  # (ncol,) degrees_north
    lon: np.ndarray  # (ncol,) degrees_east
    area: np.ndarray  # (ncol,) relative cell area (sums to 4*pi on the sphere)
    hyai: np.ndarray  # (nlev+1,) interface hybrid A coefficient (times P0 gives Pa)
    hybi: np.ndarray  # (nlev+1,) interface hybrid B coefficient (times PS)
    hyam: np.ndarray
    hybm: np.ndarray
    ps: np.ndarray  # (ncol,) sample surface pressure, Pa

    @property
    def ncol(self) -> int:
        return self.lat.size

    @property
    def nlev(self) -> int:
        return self.hyam.size

    def dp(self, ps: np.ndarray) -> np.ndarray:
        """Pressure thickness of each layer, Pa: ``dp_k = dA_k*P0 + dB_k*ps``; shape (..., nlev)."""
        return np.diff(self.hyai) * P0 + np.diff(self.hybi) * np.asarray(ps)[..., None]


@functools.lru_cache(maxsize=1)
def load_grid() -> Grid:
    with _open("ClimSim_low-res_grid-info.nc") as d:
        g = {
            k: np.array(d[k][:], dtype=np.float64)
            for k in ("lat", "lon", "area", "hyai", "hybi", "hyam", "hybm")
        }
        ps = np.array(d["PS"][:], dtype=np.float64).reshape(-1)
    return Grid(ps=ps, **g)


@functools.lru_cache(maxsize=8)
def _stat_file(name: str) -> dict[str, np.ndarray]:
    with _open(name) as d:
        return {k: np.array(v[:], dtype=np.float64).reshape(-1) for k, v in d.variables.items()}


def input_stat(kind: str, name: str, size: int) -> np.ndarray:
    """ClimSim ``input_{kind}`` (mean/max/min/std) of one variable, broadcast to ``size``."""
    stats = _stat_file(f"input_{kind}.nc")
    if name not in stats:
        raise KeyError(f"input_{kind}.nc has no variable {name!r}")
    return np.broadcast_to(stats[name], (size,)).copy()


def output_scale(name: str, size: int) -> np.ndarray:
    stats = _stat_file("output_scale.nc")
    if name not in stats:
        raise KeyError(f"output_scale.nc has no variable {name!r}")
    return np.broadcast_to(stats[name], (size,)).copy()


def has_climsim_statistics(varset: VariableSet) -> bool:
    """ClimSim's statistics files hold every variable of ``varset`` at its size."""
    inputs = [_stat_file(f"input_{k}.nc") for k in ("mean", "max", "min")]
    outputs = _stat_file("output_scale.nc")

    def fits(stats, name, size):
        return name in stats and stats[name].size in (1, size)

    return all(fits(s, n, k) for s in inputs for n, k in varset.inputs) and all(
        fits(outputs, n, k) for n, k in varset.outputs
    )


def climsim_normalization_arrays(varset: VariableSet):
    """ClimSim's convention: ``x' = (x - input_mean)/(input_max - input_min)``, ``y' = y*output_scale``."""
    mean = np.concatenate([input_stat("mean", n, s) for n, s in varset.inputs])
    rng = np.concatenate([input_stat("max", n, s) - input_stat("min", n, s) for n, s in varset.inputs])
    scale = np.concatenate([output_scale(n, s) for n, s in varset.outputs])
    return mean, rng, scale
