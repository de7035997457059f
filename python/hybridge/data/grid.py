"""The horizontal and vertical grid of a dataset, for weighting and plotting any grid.

A grid file is a netCDF file with ``area (ncol)`` and, optionally, ``lat``, ``lon``
``(ncol)``, hybrid coefficients ``hyai``, ``hybi`` ``(nlev+1)`` and ``hyam``, ``hybm``
``(nlev)`` (as ClimSim's ``ClimSim_low-res_grid-info.nc`` or the ``grid_info.nc`` that
``hybridge synthetic`` writes). Without a grid file, data with ClimSim's 384 columns use
ClimSim's grid and any other data uniform column weights; :attr:`ColumnGrid.source` says
which, and every report quotes it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import netCDF4
import numpy as np

from .climsim import P0, climsim_dir, load_grid
from .files import DataError


@dataclasses.dataclass(frozen=True)
class ColumnGrid:
    """Column weights and, where known, latitudes and level pressures of a dataset."""

    ncol: int
    weights: np.ndarray  # (ncol,) relative cell area, mean 1
    lat: np.ndarray | None  # (ncol,) degrees_north
    hyai: np.ndarray | None  # (nlev+1,) hybrid A at interfaces (times P0 gives Pa)
    hybi: np.ndarray | None  # (nlev+1,) hybrid B at interfaces (times PS)
    source: str  # said in every report: where the weights come from

    def pressure_hpa(self, nlev: int) -> np.ndarray | None:
        """Mid-level pressure (hPa) at PS = 1000 hPa for ``nlev`` levels, None when the grid
        has no hybrid coefficients for that many levels."""
        if self.hyai is None or self.hybi is None or self.hyai.size != nlev + 1:
            return None
        a = 0.5 * (self.hyai[1:] + self.hyai[:-1])
        b = 0.5 * (self.hybi[1:] + self.hybi[:-1])
        return (a * P0 + b * P0) / 100.0

    def to_dict(self) -> dict:
        """Plain lists (for a checkpoint): the hybrid coefficients and the source."""
        return {
            "source": self.source,
            "hyai": None if self.hyai is None else self.hyai.tolist(),
            "hybi": None if self.hybi is None else self.hybi.tolist(),
        }


def _optional(d: netCDF4.Dataset, name: str, size: int | None, path) -> np.ndarray | None:
    if name not in d.variables:
        return None
    a = np.asarray(d[name][:], dtype=np.float64).reshape(-1)
    if size is not None and a.size != size:
        raise DataError(f"{path}: grid variable '{name}' has {a.size} entries, expected {size}")
    return a


def read_grid_file(path) -> ColumnGrid:
    """A grid file: ``area`` is required, the rest optional (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"grid file not found: {path}")
    try:
        d = netCDF4.Dataset(path)
    except OSError as e:
        raise DataError(f"{path}: not a readable netCDF grid file ({e})") from None
    with d:
        d.set_auto_mask(False)
        area = _optional(d, "area", None, path)
        if area is None:
            raise DataError(f"{path}: grid file has no 'area' variable")
        if not (np.all(np.isfinite(area)) and np.all(area > 0)):
            raise DataError(f"{path}: grid variable 'area' must be finite and positive")
        lat = _optional(d, "lat", area.size, path)
        hyai = _optional(d, "hyai", None, path)
        hybi = _optional(d, "hybi", None if hyai is None else hyai.size, path)
    return ColumnGrid(area.size, area / area.mean(), lat, hyai, hybi, f"grid file {path}")


def grid_for(ncol: int, grid_file=None) -> ColumnGrid:
    """The grid of data with ``ncol`` columns: ``grid_file`` when given (its column count must
    match), ClimSim's grid for 384 columns, uniform weights otherwise."""
    if grid_file is not None and str(grid_file) != "none":
        g = read_grid_file(grid_file)
        if g.ncol != ncol:
            raise DataError(f"{grid_file}: grid has {g.ncol} columns, the data have {ncol}")
        return g
    climsim = load_grid()
    if grid_file is None and ncol == climsim.ncol:
        return ColumnGrid(
            ncol,
            climsim.area / climsim.area.mean(),
            climsim.lat,
            climsim.hyai,
            climsim.hybi,
            f"ClimSim ne4pg2 grid ({climsim_dir() / 'ClimSim_low-res_grid-info.nc'})",
        )
    return ColumnGrid(ncol, np.ones(ncol), None, None, None, "uniform column weights (no grid file given)")
