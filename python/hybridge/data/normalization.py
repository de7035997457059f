"""Normalization of x and y: ``x' = (x - x_mean) / x_range``, ``y' = y * y_scale``.

Two sources: the real ClimSim statistics (``input_mean``, ``input_max - input_min``,
``output_scale``), or statistics computed from the training files in one streaming pass
(mean and max-min of x as ClimSim does, ``1/std`` of y). ``auto`` (the default) takes
ClimSim's when they cover every variable of the set at its size, the data's otherwise.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..progress import Pass
from .climsim import climsim_normalization_arrays, has_climsim_statistics
from .files import DT_CLIMSIM, FilePair, read_pair
from .variables import VariableSet

FLOAT32_TINY = 1e-30  # smallest range or 1/scale kept: its reciprocal stays a float32


@dataclasses.dataclass
class Normalization:
    """``x' = (x - x_mean) / x_range``, ``y' = y * y_scale``; ``source`` climsim or data."""

    x_mean: np.ndarray  # (n_in,) physical units of x
    x_range: np.ndarray  # (n_in,) > 0
    y_scale: np.ndarray  # (n_out,) multiplies y
    source: str

    def __post_init__(self):
        # A constant input (zero range) would divide by zero: leave it unscaled. The model
        # runs in float32: a range or a scale whose reciprocal leaves float32's range (a
        # variable that varies by 1e-40) counts as constant too.
        ok = np.isfinite(self.x_range) & (self.x_range > FLOAT32_TINY)
        self.x_range = np.where(ok, self.x_range, 1.0)
        ok = np.isfinite(self.y_scale) & (np.abs(self.y_scale) < 1.0 / FLOAT32_TINY)
        self.y_scale = np.where(ok, self.y_scale, 0.0)

    def to_tensors(self) -> dict[str, torch.Tensor]:
        """float32 tensors ``x_mean``, ``x_range``, ``y_scale`` (as a checkpoint keeps them)."""
        return {
            "x_mean": torch.tensor(self.x_mean, dtype=torch.float32),
            "x_range": torch.tensor(self.x_range, dtype=torch.float32),
            "y_scale": torch.tensor(self.y_scale, dtype=torch.float32),
        }

    @classmethod
    def from_tensors(cls, d: dict, source: str) -> Normalization:
        """The inverse of :meth:`to_tensors`."""
        return cls(
            d["x_mean"].double().numpy(), d["x_range"].double().numpy(), d["y_scale"].double().numpy(), source
        )


def climsim_normalization(varset: VariableSet) -> Normalization:
    """ClimSim's reference statistics for ``varset``."""
    return Normalization(*climsim_normalization_arrays(varset), source="climsim")


def data_normalization(
    pairs: list[FilePair], varset: VariableSet, dt: float = DT_CLIMSIM, progress: bool = False
) -> Normalization:
    """One streaming pass (float64 sums), never more than one file in memory; a start and an
    end line, or with ``progress`` on a terminal a bar."""
    n, sx, sy, syy = 0, 0.0, 0.0, 0.0
    xmin = xmax = None
    for p in Pass(pairs, "normalization statistics from the training data", "files", progress):
        x, y = read_pair(p, varset, dt)
        x, y = x.astype(np.float64), y.astype(np.float64)
        n += x.shape[0]
        sx = sx + x.sum(0)
        sy = sy + y.sum(0)
        syy = syy + (y * y).sum(0)
        xmin = x.min(0) if xmin is None else np.minimum(xmin, x.min(0))
        xmax = x.max(0) if xmax is None else np.maximum(xmax, x.max(0))
    if n == 0:
        raise ValueError("no training files to compute normalization from")
    ymean = sy / n
    ystd = np.sqrt(np.maximum(syy / n - ymean**2, 0.0))
    with np.errstate(divide="ignore"):
        y_scale = np.where(ystd > 0, 1.0 / ystd, 0.0)
    return Normalization(sx / n, xmax - xmin, y_scale, source="data")


def resolve_kind(kind: str, varset: VariableSet) -> tuple[str, str]:
    """``(climsim | data, why)`` for a configured ``auto``, ``climsim`` or ``data``."""
    covered = has_climsim_statistics(varset)
    if kind == "auto":
        if covered:
            return "climsim", f"ClimSim's reference statistics cover every variable of {varset.name!r}"
        return "data", f"variable set {varset.name!r} is not ClimSim's: statistics from the training files"
    if kind == "climsim" and not covered:
        raise ValueError(
            f"normalization climsim: ClimSim's statistics do not cover variable set {varset.name!r} "
            "(a variable it lacks, or another number of levels); use normalization: data or auto"
        )
    if kind not in ("climsim", "data"):
        raise ValueError(f"normalization must be auto, climsim or data, got {kind!r}")
    return kind, "as configured"


def make_normalization(kind: str, pairs, varset, dt, progress: bool = False) -> Normalization:
    """The normalization of ``kind`` (climsim or data, after :func:`resolve_kind`)."""
    if kind == "climsim":
        return climsim_normalization(varset)
    if kind == "data":
        return data_normalization(pairs, varset, dt, progress)
    raise ValueError(f"normalization must be 'climsim' or 'data', got {kind!r}")
