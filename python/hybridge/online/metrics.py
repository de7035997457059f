"""Online metrics of a hybrid run against the reference run, as ClimSim-Online reports them.

Both runs write ClimSim-format ``.mli``/``.mlo`` pairs (fortran/host/host_climsim_io.f90);
``.mli`` holds the state at the start of a step. The metrics compare the two runs at the
time stamps both have:

* global RMSE of T and q per time step, weighted by column area times layer mass dp/g
  (a level counts in proportion to the air it holds);
* zonal-mean bias (hybrid - reference) of the time-mean T and q, per latitude band and level;
* the distribution of precipitation (``cam_out_PRECC`` of the ``.mlo`` files, mm/day);
* the drift of global-mean column water ``W = sum(q dp/g)`` and column moist enthalpy
  ``E = sum((cp T + Lv q) dp/g)`` from their initial values.

Arrays are ``(time, ncol, nlev)`` for profiles (level 0 = model top) and ``(time, ncol)``
for surface fields, float64.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import netCDF4
import numpy as np

from ..data import DataError
from ..physics import CPAIR, GRAVIT, LATVAP

SECONDS_PER_DAY = 86400.0
MM_PER_M = 1000.0
LAT_BAND_EDGES = np.arange(-90.0, 90.1, 10.0)  # degrees_north
PRECIP_BIN_EDGES = np.concatenate([[0.0], np.logspace(-2, np.log10(500.0), 41)])  # mm/day
_NAME = re.compile(r"^(?P<case>.+)\.mli\.(?P<stamp>\d{4}-\d{2}-\d{2}-\d{5})\.nc$")
_DAYS_BEFORE_MONTH = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30])  # no-leap


@dataclasses.dataclass
class Trajectory:
    """The states a run wrote: one entry per ``.mli``/``.mlo`` pair, in time order."""

    stamps: list[str]  # YYYY-MM-DD-SSSSS, start of the step
    t: np.ndarray  # state_t, K, (time, ncol, nlev)
    q: np.ndarray  # state_q0001, kg/kg, (time, ncol, nlev)
    ps: np.ndarray  # state_ps, Pa, (time, ncol)
    precc: np.ndarray  # cam_out_PRECC after the step, m/s, (time, ncol)

    def select(self, stamps: list[str]) -> Trajectory:
        index = {s: i for i, s in enumerate(self.stamps)}
        i = [index[s] for s in stamps]
        return Trajectory(list(stamps), self.t[i], self.q[i], self.ps[i], self.precc[i])


def _read(ds: netCDF4.Dataset, path: Path, name: str, nlev: int | None) -> np.ndarray:
    """A (ncol, nlev) profile or (ncol,) surface field; ClimSim stores profiles (lev, ncol)."""
    if name not in ds.variables:
        raise DataError(f"{path}: variable '{name}' not found")
    v = ds.variables[name]
    want = ("lev", "ncol") if nlev else ("ncol",)
    if tuple(v.dimensions) != want:
        raise DataError(f"{path}: variable '{name}' has dims {tuple(v.dimensions)}, expected {want}")
    a = np.asarray(v[...], dtype=np.float64)
    return a.T if nlev else a


def complete_pairs(run_dir: Path, case: str | None) -> list[tuple[str, Path, Path]]:
    """``(stamp, mli, mlo)`` of a run in time order. A run stopped by the stability guard or
    the emulator wrote the ``.mli`` of its last step but not the ``.mlo``: that last lone
    file is left out; a lone file anywhere else is an error."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"run output folder not found: {run_dir}")
    found = []
    for mli in run_dir.glob("*/*.mli.*.nc"):
        m = _NAME.match(mli.name)
        if m and (case is None or m["case"] == case):
            found.append((m["stamp"], mli, mli.with_name(mli.name.replace(".mli.", ".mlo.", 1))))
    found.sort()
    for i, (_, mli, mlo) in enumerate(found):
        if not mlo.exists():
            if i == len(found) - 1:
                return found[:-1]
            raise DataError(f"{mli}: no .mlo partner (expected {mlo.name} next to it)")
    return found


def load_trajectory(run_dir: Path, case: str | None = None) -> Trajectory:
    """Read every ``.mli``/``.mlo`` pair under ``run_dir`` (``YYYY-MM/`` folders).

    Non-finite values are kept: a run that blew up is what the metrics must show."""
    pairs = complete_pairs(run_dir, case)
    if not pairs:
        raise DataError(f"{run_dir}: no complete .mli/.mlo pair under YYYY-MM/ folders")
    t, q, ps, precc = [], [], [], []
    for _, mli_path, mlo_path in pairs:
        with netCDF4.Dataset(mli_path) as mli, netCDF4.Dataset(mlo_path) as mlo:
            mli.set_auto_mask(False)
            mlo.set_auto_mask(False)
            if "lev" not in mli.dimensions:
                raise DataError(f"{mli_path}: no 'lev' dimension")
            nlev = mli.dimensions["lev"].size
            t.append(_read(mli, mli_path, "state_t", nlev))
            q.append(_read(mli, mli_path, "state_q0001", nlev))
            ps.append(_read(mli, mli_path, "state_ps", None))
            precc.append(_read(mlo, mlo_path, "cam_out_PRECC", None))
        if t[-1].shape != t[0].shape:
            raise DataError(
                f"{mli_path}: state_t has shape {t[-1].shape[::-1]}, the first file "
                f"{pairs[0][1].name} has {t[0].shape[::-1]}"
            )
    return Trajectory([p[0] for p in pairs], np.stack(t), np.stack(q), np.stack(ps), np.stack(precc))


def stamp_seconds(stamp: str) -> float:
    """Seconds since 0001-01-01-00000 of a no-leap ``YYYY-MM-DD-SSSSS`` stamp."""
    y, m, d, s = (int(v) for v in stamp.split("-"))
    return ((y - 1) * 365 + _DAYS_BEFORE_MONTH[m - 1] + d - 1) * SECONDS_PER_DAY + s


def common_stamps(ref: Trajectory, run: Trajectory, ref_dir, run_dir) -> list[str]:
    have = set(ref.stamps)
    stamps = [s for s in run.stamps if s in have]
    if not stamps:
        raise DataError(
            f"no time step of {run_dir} ({run.stamps[0]} .. {run.stamps[-1]}) is in the "
            f"reference {ref_dir} ({ref.stamps[0]} .. {ref.stamps[-1]}); run both with the "
            "same start and mli_interval_steps"
        )
    return stamps


def layer_mass(ps: np.ndarray, hyai: np.ndarray, hybi: np.ndarray, p0: float = 1.0e5) -> np.ndarray:
    """dp/g, kg/m2, shape ``ps.shape + (nlev,)``: dp_k = (hyai[k+1]-hyai[k]) P0 + (hybi[k+1]-hybi[k]) ps."""
    dp = np.diff(hyai) * p0 + np.diff(hybi) * np.asarray(ps)[..., None]
    return dp / GRAVIT


def mass_weighted_rmse(a: np.ndarray, b: np.ndarray, area: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Per time step: sqrt(sum_ck w_ck (a-b)^2 / sum_ck w_ck), w_ck = area_c * mass_ck.

    a, b, mass: (time, ncol, nlev); area: (ncol,). NaN where a run holds non-finite values."""
    w = area[None, :, None] * mass
    return np.sqrt((w * (a - b) ** 2).sum(axis=(1, 2)) / w.sum(axis=(1, 2)))


def zonal_mean(
    x: np.ndarray, lat: np.ndarray, area: np.ndarray, edges: np.ndarray = LAT_BAND_EDGES
) -> np.ndarray:
    """Area-weighted mean over the columns of each latitude band: x (ncol, ...) ->
    (nband, ...); NaN for a band without columns."""
    band = np.clip(np.digitize(lat, edges) - 1, 0, len(edges) - 2)
    out = np.full((len(edges) - 1, *x.shape[1:]), np.nan)
    for b in range(len(edges) - 1):
        cols = band == b
        if cols.any():
            w = area[cols].reshape((-1,) + (1,) * (x.ndim - 1))
            out[b] = (w * x[cols]).sum(0) / w.sum()
    return out


def global_mean(x: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Area-weighted global mean over the column axis (-1): (time, ncol) -> (time,)."""
    return (x * area).sum(-1) / area.sum()


def column_water(q: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """sum_k q dp/g, kg/m2."""
    return (q * mass).sum(-1)


def column_energy(t: np.ndarray, q: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """sum_k (cp T + Lv q) dp/g, J/m2 (the moist enthalpy the host's budget conserves)."""
    return ((CPAIR * t + LATVAP * q) * mass).sum(-1)


def precip_mm_per_day(precc_m_per_s: np.ndarray) -> np.ndarray:
    return precc_m_per_s * MM_PER_M * SECONDS_PER_DAY


def precip_density(precip_mm_day: np.ndarray, edges: np.ndarray = PRECIP_BIN_EDGES) -> np.ndarray:
    """Fraction of (column, step) samples per bin of precipitation (mm/day); values above
    the last edge go to the last bin."""
    x = np.clip(precip_mm_day[np.isfinite(precip_mm_day)].ravel(), edges[0], edges[-1])
    counts, _ = np.histogram(x, bins=edges)
    return counts / max(counts.sum(), 1)


def compare(ref: Trajectory, run: Trajectory, grid) -> dict:
    """Online metrics of ``run`` against ``ref`` (already restricted to the same stamps).

    ``grid`` provides ``lat``, ``area``, ``hyai``, ``hybi`` (hybridge.data.load_grid()).
    Returns time series (lists) and per-run scalars; units in the key names."""
    if ref.stamps != run.stamps:
        raise ValueError("compare() needs trajectories on the same time stamps")
    if run.t.shape[1] != grid.area.size:
        raise DataError(f"runs have {run.t.shape[1]} columns, the grid has {grid.area.size}")
    area = grid.area
    mass = layer_mass(ref.ps, grid.hyai, grid.hybi)  # reference layer masses for both
    rmse_t = mass_weighted_rmse(run.t, ref.t, area, mass)
    rmse_q = mass_weighted_rmse(run.q, ref.q, area, mass) * 1000.0
    hours = [(stamp_seconds(s) - stamp_seconds(ref.stamps[0])) / 3600.0 for s in ref.stamps]
    run_mass = layer_mass(run.ps, grid.hyai, grid.hybi)
    water = {
        k: global_mean(column_water(tr.q, m), area)
        for k, tr, m in (("ref", ref, mass), ("run", run, run_mass))
    }
    energy = {
        k: global_mean(column_energy(tr.t, tr.q, m), area)
        for k, tr, m in (("ref", ref, mass), ("run", run, run_mass))
    }
    precip = {k: precip_mm_per_day(tr.precc) for k, tr in (("ref", ref), ("run", run))}
    finite = np.isfinite(rmse_t) & np.isfinite(rmse_q)
    return {
        "hours": hours,
        "rmse_t_K": rmse_t.tolist(),
        "rmse_q_g_per_kg": rmse_q.tolist(),
        "zonal_bias_t_K": zonal_mean((run.t - ref.t).mean(0), grid.lat, area).tolist(),
        "zonal_bias_q_g_per_kg": (1000.0 * zonal_mean((run.q - ref.q).mean(0), grid.lat, area)).tolist(),
        "precip_density": {k: precip_density(v).tolist() for k, v in precip.items()},
        "precip_mean_mm_per_day": {k: float(np.nanmean(global_mean(v, area))) for k, v in precip.items()},
        "water_drift_kg_per_m2": {k: (v - v[0]).tolist() for k, v in water.items()},
        "energy_drift_MJ_per_m2": {k: ((v - v[0]) / 1e6).tolist() for k, v in energy.items()},
        "final_rmse_t_K": float(rmse_t[finite][-1]) if finite.any() else float("nan"),
        "final_rmse_q_g_per_kg": float(rmse_q[finite][-1]) if finite.any() else float("nan"),
        "mean_rmse_t_K": float(rmse_t[finite].mean()) if finite.any() else float("nan"),
        "mean_rmse_q_g_per_kg": float(rmse_q[finite].mean()) if finite.any() else float("nan"),
    }


def guard_statistics(rows: list[dict], ncol: int, steps_per_day: int) -> dict:
    """What the emulator's guard (host namelist ``ml_guard``) flagged, from the host's log rows
    (``log_interval_steps = 1``): per step the fraction of the ``ncol`` columns outside the
    training range, over days since the run's start, and summaries of it."""
    guarded = np.array([r.get("guarded", 0.0) for r in rows], dtype=float)
    fraction = guarded / ncol
    finite = fraction[np.isfinite(fraction)]
    return {
        "days": [(i + 1) / steps_per_day for i in range(len(rows))],
        "guarded_fraction": fraction.tolist(),
        "mean_guarded_fraction": float(finite.mean()) if finite.size else float("nan"),
        "max_guarded_fraction": float(finite.max()) if finite.size else float("nan"),
        "steps_with_guarded_columns": int((finite > 0).sum()),
        "guarded_columns": int(finite.sum() * ncol),
    }


def budget_residuals(rows: list[dict]) -> dict:
    """Mean physics budget residuals from the host's log rows: energy in W/m2, water in
    mm/day (1 kg/m2 of water is 1 mm); the conventional physics closes both to round-off."""
    e = np.array([r["e_resid"] for r in rows], dtype=float)
    w = np.array([r["w_resid"] for r in rows], dtype=float)
    fallback = sum(int(r["fallback"]) for r in rows if np.isfinite(r["fallback"]))
    return {
        "energy_residual_W_per_m2": float(np.mean(e)) if e.size else float("nan"),
        "water_residual_mm_per_day": float(np.mean(w) * SECONDS_PER_DAY) if w.size else float("nan"),
        "fallback_columns": fallback,
    }
