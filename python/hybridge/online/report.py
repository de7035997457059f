"""The online evaluation report: ``report.md`` with PNG figures and ``metrics.json``.

``runs`` is a list of dicts, one per hybrid run, as :func:`hybridge.online.workflow.evaluate_run`
returns them: name, physics_mode, ml_variables, steps_requested, steps_survived, completed,
error, metrics (:func:`hybridge.online.metrics.compare`), budget
(:func:`hybridge.online.metrics.budget_residuals`) and guard
(:func:`hybridge.online.metrics.guard_statistics`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..files import atomic, write_json, write_text
from .metrics import LAT_BAND_EDGES, PRECIP_BIN_EDGES

P0_HPA = 1000.0


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> str:
    atomic(path, lambda t: fig.savefig(t, format="png", dpi=90))
    _plt().close(fig)
    return path.name


def _save_time_panels(fig, axes, titles, path: Path) -> str:
    """Titles, a days axis, grid and legend on time-series panels; saves the figure."""
    for ax, title in zip(axes, titles, strict=False):
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("days since hybrid start")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


def _scored(runs):
    return [r for r in runs if r.get("metrics")]


def _longest(runs) -> dict:
    """The metrics of the run that covers the most time: its reference series are the fullest."""
    return max(_scored(runs), key=lambda r: len(r["metrics"]["hours"]))["metrics"]


def plot_rmse(runs, path: Path) -> str:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for r in _scored(runs):
        days = np.array(r["metrics"]["hours"]) / 24.0
        axes[0].plot(days, r["metrics"]["rmse_t_K"], label=r["name"])
        axes[1].plot(days, r["metrics"]["rmse_q_g_per_kg"], label=r["name"])
    return _save_time_panels(
        fig, axes, ("T: global mass-weighted RMSE (K)", "q: global mass-weighted RMSE (g/kg)"), path
    )


def plot_guarded_fraction(runs, path: Path) -> str:
    """Per step, the fraction of columns the emulator's guard (ml_guard) found outside the
    training range; a run without the guard shows 0."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for r in runs:
        g = r.get("guard") or {}
        ax.plot(
            g.get("days", []), np.array(g.get("guarded_fraction", []), dtype=float) * 100.0, label=r["name"]
        )
    return _save_time_panels(fig, [ax], ["columns outside the training range (% per step)"], path)


def plot_zonal_bias(runs, pressure_hpa: np.ndarray, path: Path) -> str:
    plt = _plt()
    scored = _scored(runs)
    fig, axes = plt.subplots(max(len(scored), 1), 2, figsize=(10, 3.6 * max(len(scored), 1)), squeeze=False)
    centers = 0.5 * (LAT_BAND_EDGES[1:] + LAT_BAND_EDGES[:-1])
    for row, r in zip(axes, scored, strict=False):
        panels = (("zonal_bias_t_K", "T (K)"), ("zonal_bias_q_g_per_kg", "q (g/kg)"))
        for ax, (key, label) in zip(row, panels, strict=True):
            bias = np.array(r["metrics"][key], dtype=float).T  # (nlev, nband)
            lim = np.nanmax(np.abs(bias)) if np.isfinite(bias).any() else 1.0
            lim = lim if lim > 0 else 1.0
            mesh = ax.pcolormesh(
                centers, pressure_hpa, bias, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="nearest"
            )
            ax.invert_yaxis()
            ax.set_title(f"{r['name']}: zonal-mean bias of {label}", fontsize="medium")
            ax.set_xlabel("latitude (°N)")
            ax.set_ylabel("pressure at PS = 1000 hPa (hPa)")
            fig.colorbar(mesh, ax=ax)
    fig.tight_layout()
    return _save(fig, path)


def plot_precip(reference_density, runs, path: Path) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    lo, hi = PRECIP_BIN_EDGES[:-1], PRECIP_BIN_EDGES[1:]
    centers = np.where(lo > 0, np.sqrt(lo * hi), 0.5 * hi)  # geometric centres on the log axis
    ax.step(centers, reference_density, where="mid", label="reference", color="k")
    for r in _scored(runs):
        ax.step(centers, r["metrics"]["precip_density"]["run"], where="mid", label=r["name"])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("precipitation (mm/day); first bin: < 0.01")
    ax.set_ylabel("fraction of column-steps")
    ax.set_title("Precipitation distribution (cam_out_PRECC)", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


def plot_budgets(runs, path: Path) -> str:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    scored = _scored(runs)
    if scored:
        m = _longest(runs)
        days = np.array(m["hours"]) / 24.0
        axes[0].plot(days, m["water_drift_kg_per_m2"]["ref"], color="k", label="reference")
        axes[1].plot(days, m["energy_drift_MJ_per_m2"]["ref"], color="k", label="reference")
    for r in scored:
        days = np.array(r["metrics"]["hours"]) / 24.0
        axes[0].plot(days, r["metrics"]["water_drift_kg_per_m2"]["run"], label=r["name"])
        axes[1].plot(days, r["metrics"]["energy_drift_MJ_per_m2"]["run"], label=r["name"])
    return _save_time_panels(
        fig,
        axes,
        ("global-mean column water - initial (kg/m²)", "global-mean column moist enthalpy - initial (MJ/m²)"),
        path,
    )


def _fmt(x, spec=".3g") -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def summary_rows(runs) -> list[dict]:
    """One row per run with the headline numbers (also printed by ``hybridge demo``)."""
    rows = []
    for r in runs:
        m = r.get("metrics") or {}
        b = r.get("budget") or {}
        rows.append(
            {
                "run": r["name"],
                "physics_mode": r["physics_mode"],
                "survived": f"{r['steps_survived']}/{r['steps_requested']}",
                "survival (days)": _fmt(r.get("survival_days"), ".1f"),
                "final RMSE T (K)": _fmt(m.get("final_rmse_t_K")),
                "final RMSE q (g/kg)": _fmt(m.get("final_rmse_q_g_per_kg")),
                "mean RMSE T (K)": _fmt(m.get("mean_rmse_t_K")),
                "mean RMSE q (g/kg)": _fmt(m.get("mean_rmse_q_g_per_kg")),
                "precip (mm/day)": _fmt((m.get("precip_mean_mm_per_day") or {}).get("run")),
                "E residual (W/m²)": _fmt(b.get("energy_residual_W_per_m2")),
                "W residual (mm/day)": _fmt(b.get("water_residual_mm_per_day")),
                "fallback columns": str(b.get("fallback_columns", "n/a")),
                "guarded (mean % of columns)": _fmt(
                    100.0 * (r.get("guard") or {}).get("mean_guarded_fraction", math.nan)
                ),
            }
        )
    return rows


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return "(no runs)\n"
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def text_table(rows: list[dict]) -> str:
    if not rows:
        return "(no runs)\n"
    head = list(rows[0])
    width = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in head}
    lines = ["  ".join(h.ljust(width[h]) for h in head)]
    lines += ["  ".join(str(r[h]).ljust(width[h]) for h in head) for r in rows]
    return "\n".join(lines) + "\n"


def write_report(out: Path, setup: dict, reference: dict, runs: list[dict], pressure_hpa) -> Path:
    """Write ``out/report.md``, ``out/figures/*.png`` and ``out/metrics.json``; return the report path.

    ``setup``: a dict of the demo's settings (shown as a list); ``reference``: the reference
    run's steps and budget residuals, and its precipitation density over the hybrid period."""
    out = Path(out)
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    rmse_png = plot_rmse(runs, figs / "rmse_T_q.png")
    bias_png = plot_zonal_bias(runs, pressure_hpa, figs / "zonal_mean_bias.png")
    budget_png = plot_budgets(runs, figs / "budget_drift.png")
    guard_png = plot_guarded_fraction(runs, figs / "guarded_fraction.png")
    scored = _scored(runs)
    precip_png = plot_precip(
        _longest(runs)["precip_density"]["ref"] if scored else np.zeros(len(PRECIP_BIN_EDGES) - 1),
        runs,
        figs / "precipitation.png",
    )
    write_json(out / "metrics.json", {"setup": setup, "reference": reference, "runs": runs})

    rb = reference.get("budget", {})
    lines = [
        "# hybridge online evaluation",
        "",
        "Hybrid runs of hybridge-host (emulator coupled through the hybridge Fortran API) "
        "against the reference run with conventional physics, from the same initial state "
        "(the reference's restart file). RMSE weights: column area times layer mass dp/g.",
        "",
        "## Setup",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in setup.items()]
    lines += [
        "",
        "## Summary",
        "",
        markdown_table(summary_rows(runs)),
        f"Reference run: {reference.get('steps', 'n/a')} steps, physics budget residuals "
        f"E {_fmt(rb.get('energy_residual_W_per_m2'))} W/m², "
        f"W {_fmt(rb.get('water_residual_mm_per_day'))} mm/day "
        "(round-off for the conventional physics).",
        "",
    ]
    for r in runs:
        if not r["completed"]:
            lines.append(
                f"- **{r['name']}** stopped after {r['steps_survived']} of {r['steps_requested']} "
                f"steps: `{r['error'] or 'no message'}`"
            )
    lines += [
        "",
        "## Global RMSE over time",
        "",
        f"![RMSE of T and q]({figs.name}/{rmse_png})",
        "",
        "## Zonal-mean bias (hybrid - reference, time mean)",
        "",
        f"![zonal-mean bias]({figs.name}/{bias_png})",
        "",
        "## Precipitation distribution",
        "",
        f"![precipitation]({figs.name}/{precip_png})",
        "",
        "## Column water and energy drift",
        "",
        "Global means of column water and column moist enthalpy (cp T + Lv q) relative to "
        "the hybrid start; the host's prescribed large-scale forcing makes the reference "
        "drift too, so the hybrid curves are judged against the black one. The residual "
        "columns of the table are the physics' own budget errors per step (host log).",
        "",
        f"![budget drift]({figs.name}/{budget_png})",
        "",
        "## Out-of-distribution guard",
        "",
        "Columns whose emulator inputs or outputs left the training range recorded in the "
        "model's manifest (widened by the guard margin), per step, from the host log "
        "(namelist `ml_guard`: `fallback` hands them to the conventional physics, `clip` "
        "clips them; with the guard off nothing is checked and the curve is 0).",
        "",
    ]
    for r in runs:
        g = r.get("guard") or {}
        lines.append(
            f"- {r['name']}: survived {_fmt(r.get('survival_days'), '.1f')} days; guarded columns "
            f"{g.get('guarded_columns', 'n/a')} in {g.get('steps_with_guarded_columns', 'n/a')} steps, "
            f"mean {_fmt(100.0 * g.get('mean_guarded_fraction', math.nan))} %, "
            f"max {_fmt(100.0 * g.get('max_guarded_fraction', math.nan))} % of the columns"
        )
    lines += [
        "",
        f"![guarded fraction]({figs.name}/{guard_png})",
        "",
    ]
    return write_text(out / "report.md", "\n".join(lines))
