"""The files of an evaluation: CSV tables, a Markdown summary, a netCDF dataset, figures.

``metrics_by_variable.csv``, ``metrics_by_level.csv``, ``metrics.md`` (which steps, the R²
definition, the column weights, one row per variable) and, when xarray is installed,
``metrics.nc``: the same numbers as an ``xarray.Dataset`` (one variable per metric and
output, over ``lev``; ``pressure_hpa`` as coordinate when the grid gives it). Every file is
written under a temporary name first.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..files import atomic, write_text
from ..progress import log
from ..skill import DEFINITION
from . import figures
from .scoring import Evaluation


def _metrics(ev: Evaluation) -> list[str]:
    return ["r2", "rmse", "bias"] + (["crps"] if ev.ensemble else [])


def _csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    write_text(path, buf.getvalue())


def _fmt(v: float) -> str:
    return "undefined" if not np.isfinite(v) else f"{v:.4g}"


def markdown(ev: Evaluation) -> str:
    """``metrics.md``: what was scored, how, and one row per output variable."""
    cols = _metrics(ev)
    head = ["variable", "units", "R²", "levels with R²"] + [c.upper() for c in cols[1:]]
    lines = [
        f"# Offline metrics: {', '.join(ev.names)}",
        "",
        f"- model file(s): {', '.join(ev.models)}"
        + (" (ensemble mean scored, CRPS added)" if ev.ensemble else ""),
        f"- data: {ev.data}: {ev.selection}; {ev.steps[0]} .. {ev.steps[-1]}",
        f"- {DEFINITION}",
        f"- column weights: {ev.grid.source}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in ev.by_variable:
        cells = [r["variable"], r["units"], _fmt(r["r2"]), f"{r['r2_levels']}/{r['levels']}"]
        lines.append("| " + " | ".join(cells + [_fmt(r[c]) for c in cols[1:]]) + " |")
    return "\n".join(lines) + "\n"


def to_xarray(ev: Evaluation):
    """The evaluation as an ``xarray.Dataset``: ``<metric>_<variable>`` over ``lev`` for the
    profiles (``lev_<n>`` when profiles differ in levels), scalars as 0-d variables."""
    import xarray as xr

    data, coords = {}, {}
    pressure = ev.grid.pressure_hpa(ev.varset.nlev) if ev.varset.nlev else None
    for name, size in ev.varset.outputs:
        rows = [r for r in ev.by_level if r["variable"] == name]
        dim = "lev" if size == ev.varset.nlev else f"lev_{size}"
        for m in _metrics(ev):
            values = np.array([r[m] for r in rows])
            attrs = {"units": "1" if m == "r2" else ev.units.get(name, ""), "long_name": f"{m} of {name}"}
            data[f"{m}_{name}"] = (dim, values, attrs) if size > 1 else ((), values[0], attrs)
        if size > 1 and dim not in coords:
            coords[dim] = (dim, np.arange(size), {"long_name": "level index, 0 = model top"})
            if pressure is not None and size == ev.varset.nlev:
                coords["pressure_hpa"] = (
                    dim,
                    pressure,
                    {"units": "hPa", "long_name": "pressure at PS = 1000 hPa"},
                )
    return xr.Dataset(
        data,
        coords=coords,
        attrs={
            "models": ", ".join(ev.models),
            "data": ev.data,
            "steps": f"{ev.selection}; {ev.steps[0]} .. {ev.steps[-1]}",
            "r2_definition": DEFINITION,
            "column_weights": ev.grid.source,
        },
    )


def _netcdf(ev: Evaluation, path: Path) -> bool:
    try:
        ds = to_xarray(ev)
    except ImportError:
        log("xarray is not installed: metrics.nc not written (pip install xarray)")
        return False
    atomic(path, lambda t: ds.to_netcdf(t, engine="netcdf4"))
    return True


def write_all(ev: Evaluation, out: Path) -> list[Path]:
    """Every file of the evaluation into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    cols = _metrics(ev)
    _csv(out / "metrics_by_variable.csv", ev.by_variable, ["variable", "levels", "units", "r2_levels", *cols])
    _csv(out / "metrics_by_level.csv", ev.by_level, ["variable", "level", "pressure_hpa", *cols])
    write_text(out / "metrics.md", markdown(ev))
    written = [out / n for n in ("metrics_by_variable.csv", "metrics_by_level.csv", "metrics.md")]
    if _netcdf(ev, out / "metrics.nc"):
        written.append(out / "metrics.nc")
    written += figures.write_figures(ev, out)
    return written
