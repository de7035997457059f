"""``hybridge demo``: the whole ClimSim-Online loop on one machine (what ``make demo`` runs).

reference run (conventional physics, ClimSim-format output, restart) -> ``hybridge train``
-> ``hybridge export`` -> hybrid run (physics_mode = ml) and partial-coupling run from the
reference's restart -> online evaluation -> ``report.md`` + figures + ``metrics.json``.
Every size is a flag; scripts/demo.sh maps HYBRIDGE_DEMO_* environment variables onto them.

The training data cover the seasonal cycle: the reference's training leg runs a whole year
(``--train-days 365``) from the initial state and writes a pair every 73 steps
(``--train-interval``): one sample a day, 20 minutes later each day, so the samples walk
through every hour of the day and every month with as much data as five days at every
step. An emulator trained on one season leaves its training range when the season turns
(issue 15); the hybrid runs then start from the reference's state a year after the
initial date.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from ..files import write_json
from .report import summary_rows, text_table, write_report
from .workflow import evaluate_run, make_reference, pressure_hpa, run_hybrid, train_and_export

PARTIAL_VARIABLES = [
    "ptend_t",
    "cam_out_NETSW",
    "cam_out_FLWDS",
    "cam_out_SOLS",
    "cam_out_SOLL",
    "cam_out_SOLSD",
    "cam_out_SOLLD",
]


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive layer widths, got {text!r}")
    return values


def _last_epoch(history_csv: Path) -> str:
    """Loss and R² of the last training epoch on the held-out reference steps."""
    with open(history_csv) as f:
        last = list(csv.DictReader(f))[-1]
    return (
        f"epoch {last['epoch']}, val loss {float(last['val_loss']):.4g}, val R² {float(last['val_r2']):.3f}"
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--out", default="demo_out", help="output folder (default demo_out)")
    p.add_argument("--ranks", type=int, default=2, help="MPI ranks of every host run (default 2)")
    p.add_argument(
        "--train-days",
        type=float,
        default=365.0,
        help="days of the reference run's training leg, sampled every --train-interval steps "
        "(default 365: the whole seasonal cycle)",
    )
    p.add_argument(
        "--hybrid-days",
        type=float,
        default=5.0,
        help="days of each hybrid run, and of the reference it is compared with (default 5)",
    )
    p.add_argument(
        "--train-interval",
        type=int,
        default=73,
        help="write training .mli/.mlo every N steps (default 73: one pair a day, 20 min later each day)",
    )
    p.add_argument(
        "--output-interval",
        type=int,
        default=3,
        help="write .mli/.mlo of the evaluated runs every N steps (default 3 = 1 h)",
    )
    p.add_argument("--epochs", type=int, default=15, help="training epochs (default 15)")
    p.add_argument(
        "--hidden",
        type=_int_list,
        default=[512, 512, 512, 512],
        help="MLP hidden layer widths, comma-separated (default 512,512,512,512)",
    )
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.05,
        help="the latest fraction of the training steps held out for validation (default 0.05: the "
        "last ~18 days of a year, so that the emulator still sees the whole seasonal cycle)",
    )
    p.add_argument(
        "--partial-variables",
        default=",".join(PARTIAL_VARIABLES),
        help="outputs the emulator owns in the partial-coupling run, comma-separated ('' skips that run)",
    )
    p.add_argument(
        "--nonfinite-policy",
        choices=("abort", "fallback"),
        default="abort",
        help="host namelist nonfinite_policy of the hybrid runs (default abort)",
    )
    p.add_argument(
        "--ml-guard",
        choices=("off", "fallback", "clip"),
        default="off",
        help="host namelist ml_guard of the hybrid runs: columns outside the training range fall back "
        "to conventional physics, are clipped, or pass (default off)",
    )
    p.add_argument(
        "--ml-guard-margin",
        type=float,
        default=None,
        help="host namelist ml_guard_margin: allowed excess beyond the training range, as a fraction "
        "of it (default: the host's, 0.1)",
    )


def run(args) -> int:
    if args.ranks < 1:
        raise ValueError(f"--ranks must be >= 1, got {args.ranks}")
    if not 0 < args.val_fraction < 1:
        raise ValueError(f"--val-fraction must be between 0 and 1, got {args.val_fraction}")
    for flag in ("train_interval", "output_interval", "epochs"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    partial = [v.strip() for v in args.partial_variables.split(",") if v.strip()]
    t0 = time.perf_counter()
    timings = {}

    def stage(name):
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 1)
        print(f"== demo: {name} done ({timings[name]} s)", flush=True)

    print(
        f"== demo: reference run, conventional physics, {args.ranks} ranks, "
        f"{args.train_days} + {args.hybrid_days} days",
        flush=True,
    )
    reference = make_reference(
        out, args.train_days, args.hybrid_days, args.ranks, args.train_interval, args.output_interval
    )
    stage("reference")
    model = train_and_export(
        reference,
        out / "emulator",
        args.epochs,
        args.hidden,
        args.seed,
        extra_sets=[f"val_fraction={args.val_fraction}"],
    )
    stage("train + export")

    runs = []
    plan = [("hybrid_ml", "ml", None)] + ([("hybrid_partial", "partial", partial)] if partial else [])
    for name, mode, variables in plan:
        print(
            f"== demo: {name}: physics_mode = {mode}"
            + (f", emulator owns {', '.join(variables)}" if variables else ""),
            flush=True,
        )
        host_run = run_hybrid(
            out / name,
            reference,
            model,
            mode,
            args.ranks,
            variables,
            args.nonfinite_policy,
            args.ml_guard,
            args.ml_guard_margin,
        )
        runs.append(evaluate_run(name, host_run, reference, mode, variables))
        stage(name)

    setup = {
        "ranks": args.ranks,
        "reference training days": args.train_days,
        "hybrid days": args.hybrid_days,
        "training data every N steps": args.train_interval,
        "evaluated output every N steps": args.output_interval,
        "epochs": args.epochs,
        "held-out fraction of the training steps": args.val_fraction,
        "MLP hidden layers": args.hidden,
        "seed": args.seed,
        "model": str(model),
        "offline validation (last epoch)": _last_epoch(out / "emulator" / "train" / "history.csv"),
        "partial-coupling variables": partial,
        "nonfinite_policy": args.nonfinite_policy,
        "ml_guard": args.ml_guard
        if args.ml_guard_margin is None
        else f"{args.ml_guard}, margin {args.ml_guard_margin}",
    }
    reference_summary = {
        "steps": reference["train_steps"] + reference["eval_steps"],
        "budget": reference["budget"],
    }
    report = write_report(out, setup, reference_summary, runs, pressure_hpa())
    stage("report")
    timings["total"] = round(time.perf_counter() - t0, 1)
    write_json(out / "timings.json", timings)
    print()
    print(text_table(summary_rows(runs)), end="")
    print(f"\nreport: {report} (figures in {out / 'figures'}), wall time {timings['total']:.0f} s")
    return 0
