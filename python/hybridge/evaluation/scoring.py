"""Score models on time steps they were not trained on.

Which steps: ``split="heldout"`` (the default) keeps the steps outside the training period
every model's manifest records (``provenance.split.train``, written by ``hybridge
export``): never a training step. ``date_from``/``date_to`` narrow the steps to a named
period. ``split="all"`` scores every step and says how many were training steps. A model
that records no training period (exported through the public API, or an older file) cannot
be checked: the held-out selection then warns and scores every step.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from ..data import DataError, FilePair, VariableSet, find_pairs, read_pair
from ..data.calendar import parse_date
from ..data.files import check_pair
from ..data.grid import ColumnGrid, grid_for
from ..manifest import Manifest, ManifestError, read_manifest
from ..model_file import load_model
from ..progress import Pass, log
from ..skill import SkillSums, per_variable

SCATTER_POINTS = 20000  # per scalar output, spread evenly over the evaluated steps


@dataclasses.dataclass
class Evaluation:
    """Everything a report or a figure needs from one evaluation."""

    models: list[str]
    names: list[str]
    data: str
    varset: VariableSet
    units: dict[str, str]
    steps: list[str]  # time stamps scored
    selection: str  # which steps and why, said in every report
    grid: ColumnGrid
    by_variable: list[dict]
    by_level: list[dict]
    by_latitude: dict[str, np.ndarray]  # profile -> (nlev, nbands) R²; empty without latitudes
    lat_edges: np.ndarray
    scatter: dict[str, tuple[np.ndarray, np.ndarray]]  # scalar output -> (true, predicted)

    @property
    def ensemble(self) -> bool:
        """Several models: the mean is scored and the CRPS reported."""
        return len(self.models) > 1

    @property
    def title(self) -> str:
        """``"<model(s)> on <data> (<n> held-out steps, first..last)"`` for figure titles."""
        first, last = self.steps[0], self.steps[-1]
        return f"{' + '.join(self.names)} on {Path(self.data).name}: {len(self.steps)} steps {first}..{last}"


def _crps(members: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Ensemble CRPS per entry: mean|x_m - y| - mean_{m,m'}|x_m - x_m'| / 2."""
    skill = np.abs(members - y).mean(0)
    spread = np.abs(members[:, None] - members[None, :]).mean((0, 1))
    return skill - 0.5 * spread


def _variable_set(manifests: list[Manifest], paths) -> tuple[VariableSet, dict[str, str]]:
    first = manifests[0]
    for m, p in zip(manifests, paths, strict=True):
        if len(m.inputs) != 1 or len(m.outputs) != 1 or m.states:
            raise ManifestError(f"{p}: evaluate takes models with one input x and one output y, no state")
        if not m.inputs[0].layout or not m.outputs[0].layout:
            raise ManifestError(f"{p}: manifest has no variable layout")
    layout = lambda m: [(v.name, v.size) for v in m.inputs[0].layout + m.outputs[0].layout]  # noqa: E731
    for m, p in zip(manifests[1:], paths[1:], strict=True):
        if layout(m) != layout(first):
            raise ManifestError(f"{p}: variable layout differs from {paths[0]}; an ensemble needs one layout")
    varset = VariableSet(
        first.name,
        tuple((v.name, v.size) for v in first.inputs[0].layout),
        tuple((v.name, v.size) for v in first.outputs[0].layout),
    )
    return varset, {v.name: v.units for v in first.outputs[0].layout}


def _day(stamp_time) -> tuple[int, int, int]:
    return tuple(stamp_time[:3])


def select_steps(pairs: list[FilePair], manifests, paths, split="heldout", date_from=None, date_to=None):
    """``(pairs to score, a sentence saying which and why)``; see the module docstring."""
    if split not in ("heldout", "all"):
        raise ValueError(f"split must be heldout or all, got {split!r}")
    lo = parse_date(date_from, "--from") if date_from else None
    hi = parse_date(date_to, "--to") if date_to else None
    chosen = [p for p in pairs if (lo is None or _day(p.time) >= lo) and (hi is None or _day(p.time) <= hi)]
    if not chosen:
        raise DataError(f"no time steps between {date_from or 'the start'} and {date_to or 'the end'}")
    periods = []
    for m, path in zip(manifests, paths, strict=True):
        train = (m.provenance.get("split") or {}).get("train") or {}
        if train.get("first") and train.get("last"):
            periods.append((train["first"], train["last"], path))
    in_training = [p for p in chosen if any(a <= p.stamp <= b for a, b, _ in periods)]
    named = f" between {date_from or 'the start'} and {date_to or 'the end'}" if (lo or hi) else ""
    if split == "all":
        note = f" ({len(in_training)} of them in a model's training period)" if in_training else ""
        return chosen, f"all {len(chosen)} time steps{named}{note}, as asked (--split all)"
    if len(periods) < len(manifests):
        missing = [
            str(p)
            for p, m in zip(paths, manifests, strict=True)
            if not (m.provenance.get("split") or {}).get("train")
        ]
        log(f"warning: {', '.join(missing)} records no training period: held-out steps cannot be told apart")
        if not periods:
            return chosen, f"all {len(chosen)} time steps{named} (the model records no training period)"
    held = [p for p in chosen if p not in in_training]
    spans = "; ".join(f"{a}..{b} ({Path(path).name})" for a, b, path in periods)
    if not held:
        raise DataError(
            f"no held-out time steps{named}: all {len(chosen)} lie in the training period {spans}; "
            "evaluate on later data, or pass --split all to score training steps knowingly"
        )
    return held, f"{len(held)} held-out time steps{named}, outside the training period {spans}"


def _bands(lat: np.ndarray | None):
    edges = np.arange(-90, 91, 10)
    if lat is None:
        return edges, None
    return edges, np.clip(np.digitize(lat, edges[1:-1]), 0, len(edges) - 2)


def evaluate(
    models: list,
    data,
    out=None,
    stride: int = 1,
    case: str | None = None,
    split: str = "heldout",
    date_from: str | None = None,
    date_to: str | None = None,
    grid_file=None,
    progress: bool = True,
) -> Evaluation:
    """Score ``models`` on the files under ``data``; with ``out``, write the reports and
    figures there (:func:`hybridge.evaluation.reports.write_all`)."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    manifests = [read_manifest(p) for p in models]
    varset, units = _variable_set(manifests, models)
    dt = float(manifests[0].physics.get("dt", 1200.0))
    pairs = find_pairs(data, case)
    chosen, selection = select_steps(pairs, manifests, models, split, date_from, date_to)
    chosen = chosen[::stride]
    ncol = check_pair(chosen[0], varset)
    grid = grid_for(ncol, grid_file)
    nets = [load_model(p) for p in models]  # TorchScript or .pt2, from the content
    sums = SkillSums(ncol, varset.n_out)
    scalars = {n: o for n, (o, s) in varset.offsets("out").items() if s == 1}
    per_step = max(1, SCATTER_POINTS // len(chosen))
    pick = np.random.default_rng(0).permutation(ncol)[: min(ncol, per_step)]
    scatter = {n: ([], []) for n in scalars}
    for pair in Pass(chosen, f"evaluating {len(models)} model(s)", "time steps", progress):
        x, y = read_pair(pair, varset, dt)
        if x.shape[0] != ncol:
            raise DataError(
                f"{pair.mli}: {x.shape[0]} columns, {chosen[0].mli.name} has {ncol}; one grid please"
            )
        with torch.no_grad():
            preds = np.stack([n(torch.from_numpy(x)).double().numpy() for n in nets])
        truth = y.astype(np.float64)
        sums.add(truth, preds.mean(0), _crps(preds, truth) if len(nets) > 1 else None)
        for n, o in scalars.items():
            scatter[n][0].append(truth[pick, o])
            scatter[n][1].append(preds.mean(0)[pick, o])
    feature = sums.per_feature(grid.weights)
    by_var = per_variable(feature, varset)
    for r in by_var:
        r["units"] = units.get(r["variable"], "")
    pressure = grid.pressure_hpa(varset.nlev) if varset.nlev else None
    by_lev = []
    for name, (off, size) in varset.offsets("out").items():
        for k in range(size):
            row = {"variable": name, "level": k}
            if size > 1 and pressure is not None:
                row["pressure_hpa"] = float(pressure[k])
            row.update({m: float(feature[m][off + k]) for m in ("r2", "rmse", "bias", "crps")})
            by_lev.append(row)
    edges, band = _bands(grid.lat)
    by_lat = {}
    if band is not None:
        for name, (off, size) in varset.offsets("out").items():
            if size > 1:
                cols = [np.flatnonzero(band == b) for b in range(len(edges) - 1)]
                by_lat[name] = np.array(
                    [
                        sums.per_feature(grid.weights, c)["r2"][off : off + size]
                        if c.size
                        else np.full(size, np.nan)
                        for c in cols
                    ]
                ).T
    result = Evaluation(
        models=[str(p) for p in models],
        names=[m.name for m in manifests],
        data=str(data),
        varset=varset,
        units=units,
        steps=[p.stamp for p in chosen],
        selection=selection + (f", every {stride}th" if stride > 1 else ""),
        grid=grid,
        by_variable=by_var,
        by_level=by_lev,
        by_latitude=by_lat,
        lat_edges=edges,
        scatter={n: (np.concatenate(t), np.concatenate(p)) for n, (t, p) in scatter.items()},
    )
    if out is not None:
        from .reports import write_all

        write_all(result, Path(out))
    return result
