"""The one definition of offline skill used by ``train`` (validation) and ``evaluate``.

R², RMSE and bias are computed per output feature (a variable on one level, or a scalar)
in physical units, over every column and evaluated time step, columns weighted by the
grid's cell area (uniform without a grid):

- ``R² = 1 - Σ_c w_c Σ_t (pred - true)² / Σ_c w_c Σ_t (true - mean_t(true)_c)²``: the
  variance to explain is each column's variability in time about its own time mean, as in
  ClimSim's ``calc_R2`` (``climsim_utils/data_utils.py``), so the contrast between the
  tropics and the poles is not counted as skill. ClimSim then takes the plain mean over
  columns of each column's ratio; hybridge sums over columns first (the ratio of the
  sums), which stays stable with few time steps, where a column whose few values happen to
  be close would otherwise swing the mean by orders of magnitude;
- RMSE ``sqrt(Σ w e² / Σ w)`` and bias ``Σ w e / Σ w`` over columns and time steps;
- per variable: the mean over its levels (as ClimSim's per-variable tables).

No ``dp/g`` or energy conversion is applied: every number stays in the variable's own
units. R² is undefined (NaN) where the target does not change in time in any column (a
zeroed top level, a flux that is zero throughout) and with fewer than 2 time steps; an
undefined level is left out of its variable's mean and reported as undefined, never as bad
skill.
"""

from __future__ import annotations

import numpy as np

from .data.variables import VariableSet

DEFINITION = (
    "R² per variable and level in physical units: 1 - SSE/SST over columns and time steps, SST about "
    "each column's time mean (ClimSim calc_R2), area-weighted; per variable the mean over levels"
)


class SkillSums:
    """Sums per (column, output feature) over time steps, float64, for :data:`DEFINITION`.

    Sums are taken about the first time step's targets, which keeps ``Σ(y - ȳ)²`` exact
    for fields with a large mean and a small variation (an outgoing flux of 350 W/m2)."""

    def __init__(self, ncol: int, nout: int):
        self.ncol, self.nout, self.steps = ncol, nout, 0
        z = lambda: np.zeros((ncol, nout))  # noqa: E731
        self.y0 = None
        self.sd, self.sdd, self.se, self.see, self.scrps = z(), z(), z(), z(), z()

    def add(self, true: np.ndarray, pred: np.ndarray, crps: np.ndarray | None = None) -> None:
        """One time step: ``true`` and ``pred`` ``(ncol, nout)`` in physical units; ``crps``
        the ensemble CRPS of each entry when several models are scored."""
        true, pred = np.asarray(true, np.float64), np.asarray(pred, np.float64)
        if true.shape != (self.ncol, self.nout) or pred.shape != true.shape:
            raise ValueError(
                f"skill sums take ({self.ncol}, {self.nout}) arrays, got {true.shape} and {pred.shape}"
            )
        if self.y0 is None:
            self.y0 = true.copy()
        d, e = true - self.y0, pred - true
        self.sd += d
        self.sdd += d * d
        self.se += e
        self.see += e * e
        if crps is not None:
            self.scrps += crps
        self.steps += 1

    def per_feature(self, weights: np.ndarray | None = None, columns=None) -> dict[str, np.ndarray]:
        """``(nout,)`` arrays r2, rmse, bias and crps over all columns or the index array
        ``columns``; ``weights`` ``(ncol,)`` cell areas (uniform when None)."""
        cols = np.arange(self.ncol) if columns is None else np.asarray(columns)
        w = np.ones(self.ncol) if weights is None else np.asarray(weights, np.float64)
        w = w[cols][:, None] / w[cols].sum()
        n = max(self.steps, 1)
        sse = (self.see[cols] * w).sum(0)
        sst = (np.maximum(self.sdd[cols] - self.sd[cols] ** 2 / n, 0.0) * w).sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where((sst > 0) & (self.steps >= 2), 1.0 - sse / np.where(sst > 0, sst, 1.0), np.nan)
        return {
            "r2": r2,
            "rmse": np.sqrt(sse / n),
            "bias": (self.se[cols] * w).sum(0) / n,
            "crps": (self.scrps[cols] * w).sum(0) / n,
        }


def per_variable(feature: dict[str, np.ndarray], varset: VariableSet) -> list[dict]:
    """One row per output variable: the mean over its levels of each per-feature metric
    (R² over the levels where it is defined) and how many levels have a defined R²."""
    rows = []
    for name, (off, size) in varset.offsets("out").items():
        sl = slice(off, off + size)
        r2 = feature["r2"][sl]
        ok = np.isfinite(r2)
        rows.append(
            {
                "variable": name,
                "levels": size,
                "units": varset.units(name),
                "r2": float(r2[ok].mean()) if ok.any() else float("nan"),
                "r2_levels": int(ok.sum()),
                **{k: float(feature[k][sl].mean()) for k in ("rmse", "bias", "crps")},
            }
        )
    return rows


def mean_r2(rows: list[dict]) -> float:
    """The mean R² over the variables whose R² is defined (NaN when none is)."""
    vals = [r["r2"] for r in rows if np.isfinite(r["r2"])]
    return float(np.mean(vals)) if vals else float("nan")
