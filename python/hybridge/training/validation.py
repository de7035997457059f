"""The validation pass of an epoch: loss and skill on the held-out time steps only.

The loss is the training loss (MSE of the normalized targets), the skill the one
definition of :mod:`hybridge.skill` in physical units, computed file by file so that each
column's time series is known.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data import DataError, FilePair, PairCache, read_pair
from ..skill import SkillSums


def _read(pair: FilePair, varset, dt, cache: PairCache | None):
    if cache is not None:
        x, y = cache.load(pair)
        return np.asarray(x), np.asarray(y)
    return read_pair(pair, varset, dt)


def validate(
    model, pairs: list[FilePair], varset, norm: dict, device, dt: float, cache=None, batch: int = 4096
):
    """``(loss, SkillSums)`` of ``model`` on ``pairs``; ``norm`` holds ``x_mean``,
    ``x_range`` and ``y_scale`` on ``device``. The model is put back in training mode."""
    y_inv = torch.where(norm["y_scale"] != 0, 1.0 / norm["y_scale"], torch.zeros_like(norm["y_scale"]))
    sums, sse, count = None, 0.0, 0
    model.eval()
    with torch.no_grad():
        for pair in pairs:
            x, y = _read(pair, varset, dt, cache)
            if sums is None:
                sums, first = SkillSums(x.shape[0], y.shape[1]), pair
            elif x.shape[0] != sums.ncol:
                raise DataError(
                    f"{pair.mli}: {x.shape[0]} columns, {first.mli.name} has {sums.ncol}; "
                    "per-column skill needs every held-out file on one grid"
                )
            xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
            pred = torch.cat(
                [
                    model((xt[s : s + batch] - norm["x_mean"]) / norm["x_range"])
                    for s in range(0, len(xt), batch)
                ]
            )
            sse += float(((pred - yt * norm["y_scale"]) ** 2).double().sum())
            count += pred.numel()
            sums.add(y, (pred * y_inv).double().cpu().numpy())
    model.train()
    return (sse / count if count else float("nan")), sums
