"""``hybridge evaluate MODEL [MODEL ...] DATA``: offline metrics on held-out time steps."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data.calendar import parse_date
from .scoring import evaluate


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``hybridge evaluate`` arguments."""
    p.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="one model file, or several (an ensemble: mean scored, CRPS added)",
    )
    p.add_argument("data", help="directory of .mli/.mlo files")
    p.add_argument("-o", "--out", default="evaluation", help="output directory")
    p.add_argument(
        "--split",
        choices=["heldout", "all"],
        default="heldout",
        help="heldout (default): only steps outside the models' training period; all: every step",
    )
    p.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="first day to score")
    p.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="last day to score")
    p.add_argument("--grid", help="grid file (area, lat, hyai, hybi) for the column weights; 'none': uniform")
    p.add_argument("--stride", type=int, default=1, help="use every stride-th time step")
    p.add_argument("--case", help="file prefix (default: any)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    """Check the arguments, evaluate, print the summary table."""
    if args.stride < 1:
        raise ValueError(f"--stride must be at least 1, got {args.stride}")
    for flag, value in (("--from", args.date_from), ("--to", args.date_to)):
        if value:
            parse_date(value, flag)
    for m in args.models:
        if not Path(m).is_file():
            raise FileNotFoundError(f"model file not found: {m}")
    ev = evaluate(
        args.models,
        args.data,
        args.out,
        args.stride,
        args.case,
        args.split,
        args.date_from,
        args.date_to,
        args.grid,
        not args.no_progress,
    )
    print((Path(args.out) / "metrics.md").read_text(), end="")
    print(f"wrote metrics and figures for {len(ev.steps)} time steps to {args.out}")
    return 0
