"""The survival benchmark (issue 15): the demo's emulator for one simulated year in
``physics_mode = 'ml'``, with and without the out-of-distribution guard, against the
conventional reference over the same year.

From the restart the demo's hybrid runs start from (``<demo>/reference/reference.json``)
it runs hybridge-host (ClimSim grid, ``dynamics = 'none'``) three times for ``--days``:
the conventional reference, the emulator alone (``ml_guard = 'off'``) and the emulator with
``ml_guard = 'fallback'`` (columns outside the training range get conventional physics).
A run the stability guard stops counts the days it survived.

    python bench/survival.py OUTDIR [--demo demo_out] [--days 365] [--ranks 2]

Writes OUTDIR/survival.md (the table: survival days, guarded-column fraction, RMSE of T and
q against the reference, budget residual and energy drift), OUTDIR/survival.png (RMSE of T
and q, guarded fraction and column energy over time), OUTDIR/report.md (the online report
of hybridge.online, with its figures) and OUTDIR/metrics.json. ``make bench`` runs it after
``make demo``'s stages (scripts/bench.sh). Over seeds: ``hybridge ensemble`` with
``reference.hybrid_days: 365`` and configurations that differ in ``ml_guard``
(bench/README.md).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import math
import sys
import time
from pathlib import Path

import numpy as np

from hybridge.files import read_json, write_json
from hybridge.online.host import STEPS_PER_DAY, run_host
from hybridge.online.metrics import budget_residuals
from hybridge.online.report import markdown_table, write_report
from hybridge.online.workflow import CASE, evaluate_run, pressure_hpa, run_hybrid

RUNS = (("ml", "off"), ("ml_guard", "fallback"))  # name, host namelist ml_guard


def reference_year(out: Path, demo: dict, steps: int, ranks: int, interval: int) -> dict:
    """The conventional run over the benchmark's year (reused when already complete with
    the same settings); returns a reference record as hybridge.online.workflow makes them."""
    settings = {"restart_file": demo["restart_file"], "steps": steps, "ranks": ranks, "interval": interval}
    record_path = out / "reference" / "reference.json"
    if record_path.exists():
        record = read_json(record_path, "survival reference record")
        if record.get("bench_settings") == settings:
            return record
    t0 = time.monotonic()
    run = run_host(
        out / "reference",
        ranks,
        steps,
        timeout=steps * 10.0,
        physics_mode="conventional",
        restart_file=demo["restart_file"],
        mli_interval_steps=interval,
        history_interval_steps=0,
        restart_at_end=False,
        output_dir="output",
        case_name=CASE,
    )
    if not run.completed:
        raise SystemExit(
            f"bench: the conventional reference stopped after {run.steps_survived} steps: {run.error}"
        )
    record = {
        **demo,
        "settings": {**demo["settings"], "eval_interval_steps": interval},
        "eval_data": str((out / "reference" / "output").resolve()),
        "eval_steps": steps,
        "budget": budget_residuals(run.rows),
        "bench_settings": settings,
        "wall_s": round(time.monotonic() - t0, 1),
    }
    write_json(record_path, record)
    return record


def _final(values) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v[-1]) if v.size else math.nan


def _pair(m: dict, a: str, b: str) -> str:
    return f"{m.get(a, math.nan):.3g} / {m.get(b, math.nan):.3g}"


def table_rows(results: list[dict], reference: dict) -> list[dict]:
    rows = [
        {
            "run": "reference",
            "ml_guard": "(conventional)",
            "survived (days)": f"{reference['eval_steps'] / STEPS_PER_DAY:.1f}",
            "guarded columns (mean / max %)": "-",
            "RMSE T final / mean (K)": "0",
            "RMSE q final / mean (g/kg)": "0",
            "E residual (W/m²)": f"{reference['budget']['energy_residual_W_per_m2']:.3g}",
            "energy drift at end (MJ/m²)": "-",
            "wall time (s)": f"{reference.get('wall_s', math.nan):.0f}",
        }
    ]
    for r in results:
        m, g, b = r.get("metrics") or {}, r["guard"], r["budget"]
        drift = (m.get("energy_drift_MJ_per_m2") or {}).get
        rows.append(
            {
                "run": r["name"],
                "ml_guard": r["ml_guard"],
                "survived (days)": f"{r['survival_days']:.1f}" + ("" if r["completed"] else " (stopped)"),
                # without the guard the engine does not check the ranges: nothing to count
                "guarded columns (mean / max %)": (
                    f"{100 * g['mean_guarded_fraction']:.2f} / {100 * g['max_guarded_fraction']:.1f}"
                    if r["ml_guard"] != "off"
                    else "not checked"
                ),
                "RMSE T final / mean (K)": _pair(m, "final_rmse_t_K", "mean_rmse_t_K"),
                "RMSE q final / mean (g/kg)": _pair(m, "final_rmse_q_g_per_kg", "mean_rmse_q_g_per_kg"),
                "E residual (W/m²)": f"{b['energy_residual_W_per_m2']:.3g}",
                # column moist enthalpy change since the start, the run's minus the reference's,
                # at the last output both have
                "energy drift at end (MJ/m²)": f"{_final(drift('run', [])) - _final(drift('ref', [])):.3g}",
                "wall time (s)": f"{r['wall_s']:.0f}",
            }
        )
    return rows


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    ref_drawn = False
    for r in results:
        m = r.get("metrics") or {}
        days = np.asarray(m.get("hours", []), dtype=float) / 24.0
        label = f"{r['name']} (ml_guard = {r['ml_guard']})"
        if days.size:
            axes[0, 0].plot(days, m["rmse_t_K"], label=label)
            axes[0, 1].plot(days, m["rmse_q_g_per_kg"], label=label)
            axes[1, 1].plot(days, m["energy_drift_MJ_per_m2"]["run"], label=label)
            if not ref_drawn:
                axes[1, 1].plot(days, m["energy_drift_MJ_per_m2"]["ref"], color="k", label="reference")
                ref_drawn = True
        if r["ml_guard"] == "off":  # ranges not checked, so no fraction to draw
            continue
        frac = np.asarray(r["guard"]["guarded_fraction"], dtype=float)
        ndays = frac.size // STEPS_PER_DAY
        if ndays:  # daily means, so that the diurnal cycle does not hide the trend
            daily = frac[: ndays * STEPS_PER_DAY].reshape(ndays, STEPS_PER_DAY).mean(1)
            axes[1, 0].plot(np.arange(1, ndays + 1), 100 * daily, label=label)
    titles = (
        "T: global mass-weighted RMSE vs reference (K)",
        "q: global mass-weighted RMSE vs reference (g/kg)",
        "columns the guard flagged (%, daily mean)",
        "column moist enthalpy - initial (MJ/m²)",
    )
    for ax, title in zip(axes.flat, titles, strict=True):
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("days since the hybrid start")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--demo", type=Path, default=Path("demo_out"), help="the demo's output folder")
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument(
        "--output-interval", type=int, default=STEPS_PER_DAY, help="steps between output pairs"
    )
    parser.add_argument(
        "--guard-margin", type=float, default=None, help="ml_guard_margin (default: the host's)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="hybrid runs at a time (default 1)")
    args = parser.parse_args(argv)
    out = args.outdir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    demo_record = args.demo / "reference" / "reference.json"
    model = args.demo / "emulator" / "model.pt"
    if not demo_record.exists() or not model.exists():
        raise SystemExit(f"bench: {demo_record} or {model} missing; run `make demo` first")
    demo = read_json(demo_record, "demo reference record")
    steps = round(args.days * STEPS_PER_DAY)

    reference = reference_year(out, demo, steps, args.ranks, args.output_interval)
    print(f"bench: reference, {steps} steps in {reference['wall_s']} s", flush=True)

    def hybrid(name: str, guard: str):
        t0 = time.monotonic()
        run = run_hybrid(
            out / name, reference, model, "ml", args.ranks, ml_guard=guard, ml_guard_margin=args.guard_margin
        )
        wall = round(time.monotonic() - t0, 1)
        print(f"bench: {name}: {run.steps_survived} of {steps} steps in {wall} s {run.error}", flush=True)
        return run, wall

    # The host runs side by side; their evaluation one after the other (HDF5, under netCDF4,
    # is not safe to use from two threads).
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        done = list(pool.map(lambda r: hybrid(*r), RUNS))
    results = []
    for (name, guard), (run, wall) in zip(RUNS, done, strict=True):
        results.append({**evaluate_run(name, run, reference, "ml"), "ml_guard": guard, "wall_s": wall})

    rows = table_rows(results, reference)
    plot(results, out / "survival.png")
    setup = {
        "emulator": str(model.resolve()),
        "start": f"the demo's restart {demo['restart_file']}",
        "days": args.days,
        "ranks": args.ranks,
        "hybrid runs at a time": args.jobs,
        "ml_guard_margin": "host default (0.1)" if args.guard_margin is None else args.guard_margin,
    }
    write_report(out, setup, {"steps": steps, "budget": reference["budget"]}, results, pressure_hpa())
    command = " ".join(["python bench/survival.py", *(sys.argv[1:] if argv is None else argv)])
    text = (
        f"# Survival benchmark\n\nThe demo's emulator for {args.days:g} days in `physics_mode = 'ml'` "
        f"from the demo's restart, {args.ranks} ranks, `dynamics = 'none'`; `{command}`.\n\n"
        + markdown_table(rows)
        + "\nRMSE: global, column area times layer mass weighted, at the outputs every "
        f"{args.output_interval} steps; energy drift: change of global-mean column moist enthalpy "
        "since the start, the run's minus the reference's, at the last output both have.\n\n"
        "![survival](survival.png)\n"
    )
    for r in results:
        if not r["completed"]:
            text += f"\n- {r['name']} stopped after {r['survival_days']:.1f} days: `{r['error']}`\n"
    (out / "survival.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
