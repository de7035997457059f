"""What a model saw in training, per value of a column: min, max, mean and std of its inputs
and targets over the training files, in physical units. Export writes them into the
manifest (``TensorSpec.training``), where the engine's guard (option ``guard``) compares
a coupled run's inputs and outputs with them."""

from __future__ import annotations

import numpy as np

from ..progress import Pass
from .files import DT_CLIMSIM, FilePair, read_pair
from .variables import VariableSet


def _stats(n: int, s: np.ndarray, ss: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict[str, list[float]]:
    mean = s / n
    std = np.sqrt(np.maximum(ss / n - mean * mean, 0.0))
    return {"min": lo.tolist(), "max": hi.tolist(), "mean": mean.tolist(), "std": std.tolist()}


def training_ranges(
    pairs: list[FilePair], varset: VariableSet, dt: float = DT_CLIMSIM, progress: bool = False
) -> dict[str, dict[str, list[float]]]:
    """``{"x": stats of the inputs, "y": stats of the targets}``, each ``{"min", "max",
    "mean", "std"}`` with one float per feature ([n_in] and [n_out]); one streaming pass in
    float64, one file in memory at a time."""
    n = 0
    sums: dict[str, list] = {}
    for p in Pass(pairs, "training ranges (min, max, mean, std per value)", "files", progress):
        x, y = read_pair(p, varset, dt)
        for key, a in (("x", x.astype(np.float64)), ("y", y.astype(np.float64))):
            s = sums.setdefault(key, [0.0, 0.0, np.full(a.shape[1], np.inf), np.full(a.shape[1], -np.inf)])
            s[0] = s[0] + a.sum(0)
            s[1] = s[1] + (a * a).sum(0)
            s[2] = np.minimum(s[2], a.min(0))
            s[3] = np.maximum(s[3], a.max(0))
        n += x.shape[0]
    if n == 0:
        raise ValueError("no training files to take the training ranges from")
    return {key: _stats(n, *s) for key, s in sums.items()}
