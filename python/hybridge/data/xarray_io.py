"""ClimSim files through xarray, as ClimSim's own tools read them (optional: needs xarray).

:func:`open_pair` gives one time step as two ``xarray.Dataset`` s, the inputs of a variable
set and its targets, with ``ptend_X = (mlo.state_X - mli.state_X) / dt`` derived the way
ClimSim's ``data_utils.get_target`` does and the units attached; the arrays are the ones
:func:`hybridge.data.files.read_pair` returns, in xarray's labelled form.
"""

from __future__ import annotations

from .files import DT_CLIMSIM, FilePair, check_pair
from .variables import VariableSet


def open_pair(pair: FilePair, varset: VariableSet, dt: float = DT_CLIMSIM):
    """``(inputs, targets)`` of one time step as ``xarray.Dataset`` s (float64, dims
    ``ncol`` and ``lev``, a length-1 ``time`` dim dropped)."""
    import xarray as xr

    check_pair(pair, varset)  # the same errors as read_pair, naming file and variable
    with (
        xr.open_dataset(pair.mli, engine="netcdf4") as mli,
        xr.open_dataset(pair.mlo, engine="netcdf4") as mlo,
    ):
        mli = mli.isel(time=0, drop=True) if "time" in mli.dims else mli
        mlo = mlo.isel(time=0, drop=True) if "time" in mlo.dims else mlo
        inputs = xr.Dataset({n: mli[n].astype("f8").load() for n, _ in varset.inputs})
        targets = {}
        for name, _ in varset.outputs:
            if name.startswith("ptend_"):
                state = "state_" + name[len("ptend_") :]
                targets[name] = ((mlo[state] - mli[state]) / dt).astype("f8").load()
            else:
                targets[name] = mlo[name].astype("f8").load()
    for ds, entries in ((inputs, varset.inputs), (targets, varset.outputs)):
        for n, _ in entries:
            ds[n].attrs = {"units": varset.units(n)}
    return inputs, xr.Dataset(targets)
