"""``hybridge evaluate model.pt [more.pt ...] DATA``: offline metrics as ClimSim reports them.

For every output variable and level: R², RMSE and bias (prediction - truth), weighted by
column area and, for profiles, by the layer mass dp/g (so a level counts in proportion
to the air it holds); with several models, the ensemble mean is scored and the CRPS of
the ensemble is added. The sums run over all columns and time steps, streamed one file
at a time. Per-variable R² uses the per-level means (SST summed over levels).

Writes ``metrics_by_variable.csv``, ``metrics_by_level.csv``, ``metrics.md``,
``r2_by_level.png`` and ``r2_by_latitude.png`` (latitude-pressure cross-sections of R²
for the profile variables, as in the ClimSim paper), each under a temporary name first.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import numpy as np
import torch

from .data import DataError, VariableSet, find_pairs, load_grid, read_pair
from .data.climsim import P0
from .data.files import read_surface_pressure
from .files import atomic, write_text
from .manifest import ManifestError, read_manifest
from .physics import GRAVIT

LAT_BINS = np.arange(-90, 91, 10)


class _Sums:
    """Weighted sums per (column, output feature)."""

    def __init__(self, ncol: int, nout: int):
        z = lambda: np.zeros((ncol, nout))  # noqa: E731
        self.w, self.wy, self.wyy, self.we, self.wee, self.wcrps = z(), z(), z(), z(), z(), z()

    def add(self, w, y, pred, crps):
        e = pred - y
        self.w += w
        self.wy += w * y
        self.wyy += w * y * y
        self.we += w * e
        self.wee += w * e * e
        if crps is not None:
            self.wcrps += w * crps

    def metrics(self, cols, feats) -> dict:
        """R², RMSE, bias, CRPS over the given columns; SST about each feature's own mean."""
        s = {
            k: getattr(self, k)[np.ix_(cols, feats)].sum(0) for k in ("w", "wy", "wyy", "we", "wee", "wcrps")
        }
        sst = (s["wyy"] - s["wy"] ** 2 / s["w"]).sum()
        w = s["w"].sum()
        return {
            "r2": float(1.0 - s["wee"].sum() / sst) if sst > 0 else float("nan"),
            "rmse": float(np.sqrt(s["wee"].sum() / w)),
            "bias": float(s["we"].sum() / w),
            "crps": float(s["wcrps"].sum() / w),
        }


def _crps(members: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Ensemble CRPS per entry: mean|x_m - y| - mean_{m,m'}|x_m - x_m'| / 2."""
    skill = np.abs(members - y).mean(0)
    spread = np.abs(members[:, None] - members[None, :]).mean((0, 1))
    return skill - 0.5 * spread


def _variable_set(manifests, paths) -> VariableSet:
    first = manifests[0]
    for m, p in zip(manifests[1:], paths[1:], strict=True):
        if [(v.name, v.size) for v in m.inputs[0].layout] != [
            (v.name, v.size) for v in first.inputs[0].layout
        ] or [(v.name, v.size) for v in m.outputs[0].layout] != [
            (v.name, v.size) for v in first.outputs[0].layout
        ]:
            raise ManifestError(f"{p}: variable layout differs from {paths[0]}; an ensemble needs one layout")
    for m, p in zip(manifests, paths, strict=True):
        if len(m.inputs) != 1 or len(m.outputs) != 1 or m.states:
            raise ManifestError(f"{p}: evaluate takes models with one input x and one output y")
        if not m.inputs[0].layout or not m.outputs[0].layout:
            raise ManifestError(f"{p}: manifest has no variable layout")
    return VariableSet(
        first.name,
        tuple((v.name, v.size) for v in first.inputs[0].layout),
        tuple((v.name, v.size) for v in first.outputs[0].layout),
    )


def evaluate(models: list, data, out, stride: int = 1, case: str | None = None) -> dict:
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    manifests = [read_manifest(p) for p in models]
    varset = _variable_set(manifests, models)
    dt = float(manifests[0].physics.get("dt", 1200.0))
    nets = [torch.jit.load(str(p), map_location="cpu").eval() for p in models]
    pairs = find_pairs(data, case)[::stride]
    grid = load_grid()
    sums = None
    for pair in pairs:
        x, y = read_pair(pair, varset, dt)
        ps = read_surface_pressure(pair)
        if x.shape[0] != grid.ncol:
            raise DataError(f"{pair.mli}: {x.shape[0]} columns, the ClimSim grid has {grid.ncol}")
        with torch.no_grad():
            preds = np.stack([n(torch.from_numpy(x)).double().numpy() for n in nets])
        mass = grid.dp(ps) / GRAVIT  # (ncol, nlev) kg/m2
        w = np.repeat(grid.area[:, None], varset.n_out, 1)
        off = 0
        for _, size in varset.outputs:
            if size > 1:
                w[:, off : off + size] *= mass[:, :size]
            off += size
        if sums is None:
            sums = _Sums(grid.ncol, varset.n_out)
        sums.add(
            w,
            y.astype(np.float64),
            preds.mean(0),
            _crps(preds, y.astype(np.float64)) if len(nets) > 1 else None,
        )
    all_cols = np.arange(grid.ncol)
    by_var, by_lev, by_lat = [], [], {}
    lat_bin = np.digitize(grid.lat, LAT_BINS[1:-1])
    off = 0
    for name, size in varset.outputs:
        feats = np.arange(off, off + size)
        by_var.append(
            {"variable": name, "levels": size, "units": varset.units(name), **sums.metrics(all_cols, feats)}
        )
        for k in range(size):
            by_lev.append({"variable": name, "level": k, **sums.metrics(all_cols, feats[k : k + 1])})
        if size > 1:
            by_lat[name] = np.array(
                [
                    [
                        sums.metrics(np.flatnonzero(lat_bin == b), feats[k : k + 1])["r2"]
                        if (lat_bin == b).any()
                        else np.nan
                        for b in range(len(LAT_BINS) - 1)
                    ]
                    for k in range(size)
                ]
            )
        off += size
    ensemble = len(nets) > 1
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cols = ["r2", "rmse", "bias"] + (["crps"] if ensemble else [])
    _write_csv(out / "metrics_by_variable.csv", by_var, ["variable", "levels", "units", *cols])
    _write_csv(out / "metrics_by_level.csv", by_lev, ["variable", "level", *cols])
    write_text(out / "metrics.md", _markdown(by_var, cols, models, len(pairs)))
    _plot_levels(out / "r2_by_level.png", by_lev, varset, grid)
    _plot_latitude(out / "r2_by_latitude.png", by_lat, grid)
    return {"by_variable": by_var, "by_level": by_lev, "files": len(pairs)}


def _write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    write_text(path, buf.getvalue())


def _markdown(rows, cols, models, nfiles) -> str:
    head = ["variable", "units"] + [c.upper() if c != "r2" else "R²" for c in cols]
    lines = [
        f"Offline metrics of {', '.join(str(m) for m in models)} on {nfiles} time steps "
        "(area- and mass-weighted)" + (", ensemble mean and CRPS" if len(models) > 1 else ""),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        lines.append("| " + " | ".join([r["variable"], r["units"]] + [f"{r[c]:.4g}" for c in cols]) + " |")
    return "\n".join(lines) + "\n"


def _pressure_hpa(grid) -> np.ndarray:
    return (grid.hyam * P0 + grid.hybm * P0) / 100.0


def _plot_levels(path: Path, by_lev, varset, grid) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, size in varset.outputs:
        if size > 1:
            r2 = [r["r2"] for r in by_lev if r["variable"] == name]
            ax.plot(np.clip(r2, -1, 1), _pressure_hpa(grid)[:size], label=name)
    ax.invert_yaxis()
    ax.set_xlabel("R² (clipped to [-1, 1])")
    ax.set_ylabel("pressure at PS = 1000 hPa (hPa)")
    ax.set_xlim(-1, 1)
    ax.legend(fontsize="small")
    fig.tight_layout()
    atomic(path, lambda t: fig.savefig(t, format="png", dpi=100))
    plt.close(fig)


def _plot_latitude(path: Path, by_lat: dict, grid) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(len(by_lat), 1)
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 4), squeeze=False)
    centers = 0.5 * (LAT_BINS[1:] + LAT_BINS[:-1])
    for ax, (name, r2) in zip(axes[0], by_lat.items(), strict=False):
        mesh = ax.pcolormesh(
            centers, _pressure_hpa(grid)[: r2.shape[0]], r2, vmin=0, vmax=1, cmap="viridis", shading="nearest"
        )
        ax.invert_yaxis()
        ax.set_title(f"R² {name}")
        ax.set_xlabel("latitude (°N)")
        ax.set_ylabel("pressure (hPa)")
        fig.colorbar(mesh, ax=ax)
    fig.tight_layout()
    atomic(path, lambda t: fig.savefig(t, format="png", dpi=100))
    plt.close(fig)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="one model file, or several (an ensemble: mean scored, CRPS added)",
    )
    p.add_argument("data", help="directory of .mli/.mlo files")
    p.add_argument("-o", "--out", default="evaluation", help="output directory")
    p.add_argument("--stride", type=int, default=1, help="use every stride-th time step")
    p.add_argument("--case", help="file prefix (default: any)")


def run(args) -> int:
    result = evaluate(args.models, args.data, args.out, args.stride, args.case)
    print((Path(args.out) / "metrics.md").read_text(), end="")
    print(f"wrote metrics and figures for {result['files']} time steps to {args.out}")
    return 0
