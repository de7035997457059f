"""The PNG figures of an evaluation, titled with the model(s), the data and the steps scored.

- ``r2_by_level.png``: one panel per profile output, R² against pressure (hPa at
  PS = 1000 hPa, when the grid has hybrid coefficients; the level index otherwise). The R²
  axis is linear from -1 to 1 and logarithmic beyond (symlog), so no value is clipped and a
  level of R² -10⁴ does not squeeze the skilful ones; a level whose R² is undefined
  (constant target) is a grey band, never bad skill.
- ``r2_by_latitude.png``: latitude-pressure sections of R² per profile output (when the
  grid gives latitudes); colours from 0 to 1, values below 0 in the "under" colour of the
  colour bar's arrow, undefined cells hatched grey.
- ``scalars.png``: predicted against true for every scalar output, with the 1:1 line and
  R² in each panel's title.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..figures import pyplot, save
from .scoring import Evaluation

R2_LINEAR = 1.0  # the R² axis is linear within +-1, logarithmic beyond


def _grid(plt, n: int, width: float, height: float):
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows + 0.6), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _level_axis(ev: Evaluation, size: int):
    p = ev.grid.pressure_hpa(size)
    if p is not None:
        return p, "pressure at PS = 1000 hPa (hPa)"
    return np.arange(size, dtype=float), "level index (0 = model top)"


def _label(ev: Evaluation, name: str) -> str:
    units = ev.units.get(name, "")
    return f"{name} ({units})" if units else name


def plot_r2_by_level(ev: Evaluation, path: Path) -> Path | None:
    """R² profiles, one panel per profile output; None when the outputs have no profile."""
    profiles = [(n, s) for n, s in ev.varset.outputs if s > 1]
    if not profiles:
        return None
    plt = pyplot()
    fig, axes = _grid(plt, len(profiles), 4.2, 4.6)
    for ax, (name, size) in zip(axes, profiles, strict=True):
        r2 = np.array([r["r2"] for r in ev.by_level if r["variable"] == name])
        lev, ylabel = _level_axis(ev, size)
        ok = np.isfinite(r2)
        ax.plot(np.where(ok, r2, np.nan), lev, "o-", ms=3, color="tab:blue")
        low = ok & (r2 < -R2_LINEAR)
        if low.any():
            ax.plot(r2[low], lev[low], "o", ms=4, color="tab:red", label="R² below -1 (log scale)")
        half = np.gradient(lev) / 2 if size > 1 else np.array([0.5])
        for k in np.flatnonzero(~ok):
            ax.axhspan(lev[k] - half[k], lev[k] + half[k], color="0.85", lw=0)
        if (~ok).any():
            ax.plot([], [], "s", color="0.85", label="undefined (constant target)")
        ax.set_xscale("symlog", linthresh=R2_LINEAR)
        lowest = float(np.nanmin(r2[ok])) if ok.any() else -R2_LINEAR
        ax.set_xlim(min(-R2_LINEAR, lowest * 1.5), 1.05)
        ax.set_ylim(lev.max() + half[-1], lev.min() - half[0])  # model top up
        ax.axvline(0, color="grey", lw=0.6)
        ax.grid(alpha=0.3)
        mean = next(r["r2"] for r in ev.by_variable if r["variable"] == name)
        ax.set_title(f"{_label(ev, name)}\nmean over levels R² = {mean:.3f}", fontsize="medium")
        ax.set_xlabel("R² (linear within ±1, logarithmic beyond)")
        ax.set_ylabel(ylabel)
        if low.any() or (~ok).any():
            ax.legend(fontsize="x-small", loc="lower left")
    fig.suptitle(f"R² by level: {ev.title}", fontsize="medium")
    return save(fig, path)


def plot_r2_by_latitude(ev: Evaluation, path: Path) -> Path | None:
    """Latitude-pressure R² sections; None without latitudes or profiles."""
    if not ev.by_latitude:
        return None
    plt = pyplot()
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"].copy()
    cmap.set_under("tab:red")
    cmap.set_bad("0.85")
    fig, axes = _grid(plt, len(ev.by_latitude), 4.4, 3.9)
    centers = 0.5 * (ev.lat_edges[1:] + ev.lat_edges[:-1])
    mesh = None
    for ax, (name, r2) in zip(axes, ev.by_latitude.items(), strict=True):
        lev, ylabel = _level_axis(ev, r2.shape[0])
        mesh = ax.pcolormesh(
            centers, lev, np.ma.masked_invalid(r2), vmin=0, vmax=1, cmap=cmap, shading="nearest"
        )
        if np.isnan(r2).any():
            ax.pcolor(
                centers,
                lev,
                np.ma.masked_where(~np.isnan(r2), np.zeros_like(r2)),
                hatch="//",
                alpha=0.0,
                shading="nearest",
            )
        ax.invert_yaxis()
        ax.set_title(_label(ev, name), fontsize="medium")
        ax.set_xlabel("latitude (°N)")
        ax.set_ylabel(ylabel)
    cbar = fig.colorbar(mesh, ax=axes, extend="min", shrink=0.9)
    cbar.set_label("R² (red: below 0; grey: undefined)")
    fig.suptitle(f"R² by latitude and level: {ev.title}", fontsize="medium")
    fig.set_layout_engine("constrained")
    return save(fig, path, layout=False)


def plot_scalars(ev: Evaluation, path: Path) -> Path | None:
    """Predicted against true for each scalar output; None when there is none."""
    if not ev.scatter:
        return None
    plt = pyplot()
    fig, axes = _grid(plt, len(ev.scatter), 3.8, 3.7)
    r2 = {r["variable"]: r["r2"] for r in ev.by_variable}
    for ax, (name, (true, pred)) in zip(axes, ev.scatter.items(), strict=True):
        ax.plot(true, pred, ".", ms=2, alpha=0.35, color="tab:blue", rasterized=True)
        lo, hi = np.nanmin([true.min(), pred.min()]), np.nanmax([true.max(), pred.max()])
        pad = 0.03 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8, label="1:1")
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        units = ev.units.get(name, "")
        ax.set_xlabel(f"true ({units})" if units else "true")
        ax.set_ylabel(f"predicted ({units})" if units else "predicted")
        value = "undefined" if not np.isfinite(r2[name]) else f"{r2[name]:.3f}"
        ax.set_title(f"{name}: R² {value}", fontsize="medium")
        ax.ticklabel_format(style="sci", scilimits=(-3, 4))
        ax.grid(alpha=0.3)
    fig.suptitle(f"Scalar outputs, {len(true)} sampled columns: {ev.title}", fontsize="medium")
    return save(fig, path)


def write_figures(ev: Evaluation, out: Path) -> list[Path]:
    """Every figure that applies to this evaluation; returns the paths written."""
    made = [
        plot_r2_by_level(ev, out / "r2_by_level.png"),
        plot_r2_by_latitude(ev, out / "r2_by_latitude.png"),
        plot_scalars(ev, out / "scalars.png"),
    ]
    return [p for p in made if p is not None]
