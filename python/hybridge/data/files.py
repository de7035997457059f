"""ClimSim file layout: ``YYYY-MM/<case>.mli.YYYY-MM-DD-SSSSS.nc`` with its ``.mlo.`` partner.

``read_pair`` turns one pair into ``x (ncol, n_in)`` and ``y (ncol, n_out)`` (float32) for a
:class:`VariableSet`. Profiles are stored ``(lev, ncol)`` as in ClimSim (``(ncol, lev)`` and a
leading ``time`` axis of length 1 are accepted too).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import netCDF4
import numpy as np

from .calendar import parse_date
from .calendar import stamp as format_stamp
from .variables import VariableSet

DT_CLIMSIM = 1200.0  # s, E3SM-MMF physics time step
_CASE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_NAME = re.compile(r"^(?P<case>.+)\.mli\.(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})-(?P<s>\d{5})\.nc$")


class DataError(ValueError):
    """A data file is missing, unpaired, or holds a missing/misshapen/non-finite variable."""


@dataclasses.dataclass(frozen=True)
class FilePair:
    """One time step: the ``.mli`` (inputs) and ``.mlo`` (outputs) files and their time."""

    mli: Path
    mlo: Path
    time: tuple[int, int, int, int]  # year, month, day, seconds of day

    @property
    def stamp(self) -> str:
        """``YYYY-MM-DD-SSSSS``, as in the file name."""
        return format_stamp(self.time)


def check_case(case: str | None) -> None:
    """A case is a plain file-name prefix (``E3SM-MMF``): no folder, no ``..``, so that files
    named after it stay inside the data folder."""
    if case is not None and (not _CASE.match(str(case)) or ".." in str(case)):
        raise DataError(
            f"case {case!r} is not a plain file-name prefix (letters, digits, '.', '_', '+', '-'; "
            "no '/' or '..')"
        )


def find_pairs(root, case: str | None = None) -> list[FilePair]:
    """All ``.mli`` files under ``root`` (in ``YYYY-MM/`` folders or flat), sorted by time.

    Every ``.mli`` must have its ``.mlo`` partner; ``case`` restricts the prefix
    (``E3SM-MMF`` in ClimSim; any prefix is accepted when None).
    """
    check_case(case)
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data directory not found: {root}")
    pairs = []
    for mli in sorted(list(root.glob("*.mli.*.nc")) + list(root.glob("*/*.mli.*.nc"))):
        m = _NAME.match(mli.name)
        if not m or (case is not None and m["case"] != case):
            continue
        mlo = mli.with_name(mli.name.replace(".mli.", ".mlo.", 1))
        if not mlo.exists():
            raise DataError(f"{mli}: no .mlo partner (expected {mlo.name} next to it)")
        pairs.append(FilePair(mli, mlo, (int(m["y"]), int(m["m"]), int(m["d"]), int(m["s"]))))
    if not pairs:
        raise DataError(f"no <case>.mli.YYYY-MM-DD-SSSSS.nc files under {root}")
    pairs.sort(key=lambda p: p.time)
    return pairs


def split_by_time(
    pairs: list[FilePair], val_fraction: float = 0.0, stride: int = 1, val_from: str | None = None
):
    """Train/validation split by time (validation = the latest steps), then every ``stride``-th.

    ``val_from`` ("YYYY-MM-DD") puts every step on or after that date in validation;
    otherwise the last ``val_fraction`` of the time steps are validation.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if val_from:
        day = parse_date(val_from, "val_from")
        cut = sum(p.time[:3] < day for p in pairs)
    else:
        cut = len(pairs) - round(val_fraction * len(pairs))
    return pairs[:cut][::stride], pairs[cut:][::stride]


def _variable(ds: netCDF4.Dataset, path: Path, name: str, size: int, ncol: int | None):
    """The netCDF variable ``name`` after checking its dims against ``size`` (1 or nlev) and
    ``ncol``; returns ``(variable, dims)``. Reads no data."""
    if name not in ds.variables:
        have = ", ".join(sorted(v for v in ds.variables if ds.variables[v].dimensions))
        raise DataError(f"{path}: variable '{name}' not found (file has: {have})")
    v = ds.variables[name]
    dims, shape = list(v.dimensions), list(v.shape)
    if dims and dims[0] == "time":
        if shape[0] != 1:
            raise DataError(f"{path}: variable '{name}' has {shape[0]} time records, expected 1")
        dims, shape = dims[1:], shape[1:]
    if size == 1 and dims != ["ncol"]:
        raise DataError(f"{path}: variable '{name}' has dims {tuple(dims)}, expected ('ncol',)")
    if size > 1:
        if sorted(dims) != ["lev", "ncol"]:
            raise DataError(f"{path}: variable '{name}' has dims {tuple(dims)}, expected ('lev', 'ncol')")
        nlev = shape[dims.index("lev")]
        if nlev != size:
            raise DataError(f"{path}: variable '{name}' has {nlev} levels, the variable set expects {size}")
    have = shape[dims.index("ncol")]
    if ncol is not None and have != ncol:
        raise DataError(f"{path}: variable '{name}' has {have} columns, expected {ncol}")
    return v, dims


def _read_var(ds: netCDF4.Dataset, path: Path, name: str, size: int, ncol: int | None):
    v, dims = _variable(ds, path, name, size, ncol)
    a = np.asarray(v[:], dtype=np.float64)
    if len(a.shape) > len(dims):  # the time record of length 1
        a = a[0]
    col = a if size == 1 or dims[0] == "ncol" else a.T
    if not np.all(np.isfinite(col)):
        bad = np.argwhere(~np.isfinite(col.reshape(col.shape[0], -1)))[0]
        raise DataError(
            f"{path}: variable '{name}' has NaN/Inf (first at column {bad[0]}"
            + (f", level {bad[1]})" if size > 1 else ")")
        )
    return col.reshape(col.shape[0], -1)


def read_pair(pair: FilePair, varset: VariableSet, dt: float = DT_CLIMSIM):
    """``(x, y)`` for one time step, float32 ``(ncol, n_in)`` and ``(ncol, n_out)``."""
    with netCDF4.Dataset(pair.mli) as mli, netCDF4.Dataset(pair.mlo) as mlo:
        mli.set_auto_mask(False)
        mlo.set_auto_mask(False)
        ncol = _ncol(mli, pair.mli)
        x = [_read_var(mli, pair.mli, n, s, ncol) for n, s in varset.inputs]
        y = []
        for name, size in varset.outputs:
            if name.startswith("ptend_"):
                state = "state_" + name[len("ptend_") :]
                after = _read_var(mlo, pair.mlo, state, size, ncol)
                before = _read_var(mli, pair.mli, state, size, ncol)
                y.append((after - before) / dt)
            else:
                y.append(_read_var(mlo, pair.mlo, name, size, ncol))
    return np.concatenate(x, 1).astype(np.float32), np.concatenate(y, 1).astype(np.float32)


def check_pair(pair: FilePair, varset: VariableSet) -> int:
    """Check, from the file headers only, that ``pair`` holds every variable of ``varset``
    with its dims, levels and one column count (``state_X`` in both files for a
    ``ptend_X`` target); returns ``ncol``. Run before any work starts."""
    with netCDF4.Dataset(pair.mli) as mli, netCDF4.Dataset(pair.mlo) as mlo:
        ncol = _ncol(mli, pair.mli)
        for name, size in varset.inputs:
            _variable(mli, pair.mli, name, size, ncol)
        for name, size in varset.outputs:
            if name.startswith("ptend_"):
                state = "state_" + name[len("ptend_") :]
                _variable(mli, pair.mli, state, size, ncol)
                _variable(mlo, pair.mlo, state, size, ncol)
            else:
                _variable(mlo, pair.mlo, name, size, ncol)
    return ncol


def read_surface_pressure(pair: FilePair) -> np.ndarray:
    """``state_ps`` (Pa, float64, ``(ncol,)``) of the ``.mli`` file: layer masses for weighting."""
    with netCDF4.Dataset(pair.mli) as mli:
        mli.set_auto_mask(False)
        return _read_var(mli, pair.mli, "state_ps", 1, _ncol(mli, pair.mli))[:, 0]


def _ncol(ds: netCDF4.Dataset, path: Path) -> int:
    if "ncol" not in ds.dimensions:
        raise DataError(f"{path}: no 'ncol' dimension")
    return ds.dimensions["ncol"].size
