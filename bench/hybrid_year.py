"""A one-year hybrid simulation on hybridge-host's spectral dynamical core (issue 14).

The ClimSim-Online loop with the dynamics in it: a conventional reference on the Gaussian
grid of the spectral core (the 60 ClimSim levels, so that a ClimSim v1 emulator fits), a
training leg that writes ``.mli``/``.mlo`` pairs and ends with a restart file, ``hybridge
train`` and ``hybridge export`` of the v1 MLP on it, then from that restart a year of the
reference (conventional) and a year with the emulator owning the physics (``physics_mode =
'ml'``; the boundary-layer drag, which v1 does not predict, stays conventional). The online
report of ``hybridge.online`` (RMSE of T and q over time, zonal-mean bias, precipitation,
budget drift) is computed on the Gaussian grid from the run's grid file.

    python bench/hybrid_year.py OUTDIR [--days 365] [--ml-days DAYS] [--train-days 10] [--truncation T21]
                                       [--ranks 2]

The reference year also checks the restart: it writes a restart file halfway, a second run
continues from it, and every output file of the second half must be identical to the bit.
Writes OUTDIR/report.md (figures in OUTDIR/figures) and OUTDIR/hybrid_year.md (the summary
table: the reference's survival and restart check, the hybrid run's steps survived, final and
mean RMSE of T and q against the reference).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import netCDF4
import numpy as np

from hybridge.data.climsim import Grid
from hybridge.online.host import STEPS_PER_DAY, HostRun, run_host
from hybridge.online.metrics import budget_residuals, common_stamps, compare, complete_pairs, load_trajectory
from hybridge.online.report import write_report
from hybridge.online.workflow import CASE, train_and_export

P0 = 1.0e5


def gaussian_grid(path: Path) -> Grid:
    """The host's grid file (ClimSim variables and units) as the toolkit's Grid."""
    with netCDF4.Dataset(path) as d:
        g = {
            k: np.asarray(d[k][:], dtype=np.float64)
            for k in ("lat", "lon", "area", "hyai", "hybi", "hyam", "hybm")
        }
        ps = np.asarray(d["PS"][:], dtype=np.float64).reshape(-1)
    return Grid(ps=ps, **g)


def host(run_dir: Path, ranks: int, steps: int, dyn: dict, **keys) -> HostRun:
    run = run_host(
        run_dir, ranks, steps, history_interval_steps=0, output_dir="output", case_name=CASE, **dyn, **keys
    )
    print(f"bench: {run_dir.name}: {run.steps_survived} of {steps} steps", flush=True)
    return run


def identical_files(straight: Path, restarted: Path) -> tuple[int, list[str]]:
    """(files compared, names of those that differ): every netCDF file the restarted run wrote
    against the straight run's file of the same name, variable by variable, to the bit."""
    compared, differ = 0, []
    for f in sorted(restarted.rglob("*.nc")):
        if ".r." in f.name:
            continue
        twin = straight / f.relative_to(restarted)
        compared += 1
        if not twin.exists():
            differ.append(f"{f.name} (not in the straight run)")
            continue
        with netCDF4.Dataset(f) as a, netCDF4.Dataset(twin) as b:
            for name, var in a.variables.items():
                x, y = np.asarray(var[:]), np.asarray(b[name][:]) if name in b.variables else None
                if y is None or x.shape != y.shape or x.tobytes() != y.tobytes():
                    differ.append(f"{f.name}:{name}")
                    break
    return compared, differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--days", type=float, default=365, help="the reference run (and the hybrid run)")
    parser.add_argument("--ml-days", type=float, default=None, help="the hybrid run, when shorter")
    parser.add_argument("--train-days", type=float, default=10)
    parser.add_argument("--truncation", default="T21")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--hidden", default="512,512,512,512")
    parser.add_argument(
        "--eval-interval", type=int, default=5 * STEPS_PER_DAY, help="steps between output pairs"
    )
    args = parser.parse_args(argv)
    out = args.outdir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    dyn = {"dynamics": "spectral", "truncation": args.truncation, "nlev": 60}
    train_steps = round(args.train_days * STEPS_PER_DAY)
    steps = round(args.days * STEPS_PER_DAY)
    ml_steps = round((args.ml_days if args.ml_days is not None else args.days) * STEPS_PER_DAY)
    half = steps // 2
    start = time.monotonic()

    train = host(
        out / "reference" / "train", args.ranks, train_steps, dyn, mli_interval_steps=6, restart_at_end=True
    )
    if not train.completed:
        raise SystemExit(f"bench: the reference training leg stopped: {train.error}")
    (restart,) = sorted((train.run_dir / "output").glob(f"{CASE}.r.*.nc"))
    common = {"restart_file": str(restart), "mli_interval_steps": args.eval_interval, "restart_at_end": False}
    ref = host(out / "reference" / "eval", args.ranks, steps, dyn, restart_interval_steps=half, **common)
    if not ref.completed:
        raise SystemExit(f"bench: the reference year stopped: {ref.error}")
    # ERS over the year: from the halfway restart on, on another rank count.
    (mid,) = sorted((ref.run_dir / "output").glob(f"{CASE}.r.*.nc"))[:1]
    cont = host(
        out / "reference" / "restarted",
        max(1, args.ranks - 1),
        steps - half,
        dyn,
        **{**common, "restart_file": str(mid)},
    )
    compared, differ = identical_files(ref.run_dir / "output", cont.run_dir / "output")
    restart_check = f"restarted at step {half} from `{mid.name}` on {max(1, args.ranks - 1)} rank(s): " + (
        f"{compared} output files identical to the bit" if compared and not differ else f"DIFFERS: {differ}"
    )
    print(f"bench: {restart_check}", flush=True)
    record = {
        "train_data": str(train.run_dir / "output"),
        "train_cache": str(out / "reference" / "train_cache"),
    }
    # The toolkit knows the ClimSim grid only: the Gaussian grid's file (areas, hybrid
    # coefficients) goes with the data, for the water-conservation constraint and the weights.
    grid_file = train.run_dir / "output" / f"{CASE}.grid-info.nc"
    model = train_and_export(
        record,
        out / "emulator",
        args.epochs,
        [int(h) for h in args.hidden.split(",")],
        extra_sets=[f"grid={grid_file}"],
    )
    hyb = host(
        out / "ml",
        args.ranks,
        ml_steps,
        dyn,
        physics_mode="ml",
        model_path=str(model),
        num_threads=1,
        **common,
    )

    grid = gaussian_grid(ref.run_dir / "output" / f"{CASE}.grid-info.nc")
    result = {
        "name": "ml",
        "physics_mode": "ml",
        "ml_variables": [],
        "steps_requested": hyb.steps_requested,
        "steps_survived": hyb.steps_survived,
        "completed": hyb.completed,
        "error": hyb.error,
        "budget": budget_residuals(hyb.rows),
        "metrics": None,
    }
    if complete_pairs(hyb.run_dir / "output", CASE):
        rt = load_trajectory(ref.run_dir / "output", CASE)
        ht = load_trajectory(hyb.run_dir / "output", CASE)
        stamps = common_stamps(rt, ht, ref.run_dir, hyb.run_dir)
        result["metrics"] = compare(rt.select(stamps), ht.select(stamps), grid)
    pressure = (grid.hyam * P0 + grid.hybm * P0) / 100.0
    setup = {
        "dynamics": f"spectral {args.truncation}, 60 ClimSim levels, {grid.area.size} columns",
        "reference training leg": f"{args.train_days} days",
        "reference": f"{args.days} days from the training leg's restart; {restart_check}",
        "hybrid": f"{ml_steps / STEPS_PER_DAY:g} days from the same restart",
        "emulator": f"ClimSim v1 MLP {args.hidden}, {args.epochs} epochs",
        "ranks": args.ranks,
    }
    report = write_report(
        out, setup, {"steps": ref.steps_survived, "budget": budget_residuals(ref.rows)}, [result], pressure
    )
    m = result["metrics"] or {}
    if len(m.get("hours", [])) < 2:
        # The start is the only output the runs share: nothing has been compared yet.
        m = {}

    def rmse(key: str) -> str:
        return f"{m[key]:.3f}" if key in m else "-"

    table = (
        f"Hybrid year on the spectral core ({args.truncation}, 60 levels, {args.ranks} ranks, "
        f"{(time.monotonic() - start) / 3600:.2f} h in all); `python bench/hybrid_year.py {args.outdir}`; "
        f"report: {report}\n\n"
        "| run | steps survived | final RMSE T [K] | mean RMSE T [K] | final RMSE q [g/kg] "
        "| mean RMSE q [g/kg] |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        f"| reference (conventional) | {ref.steps_survived} of {steps} | 0 | 0 | 0 | 0 |\n"
        f"| ml | {hyb.steps_survived} of {ml_steps} | {rmse('final_rmse_t_K')} | {rmse('mean_rmse_t_K')} | "
        f"{rmse('final_rmse_q_g_per_kg')} | {rmse('mean_rmse_q_g_per_kg')} |\n"
        + ("(-: no output after the start to compare; see --eval-interval)\n" if not m else "")
        + (f"\nThe hybrid run stopped: {hyb.error}\n" if not hyb.completed else "")
        + f"\nRestart of the reference: {restart_check}.\n"
    )
    (out / "hybrid_year.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
