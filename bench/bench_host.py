"""Host model time per step: conventional physics vs the emulator coupled, 1 and 2 ranks.

The coupled run uses the benchmark-size ClimSim v1 MLP (4 x 512, random weights) in
``physics_mode = 'partial'`` owning only ``cam_out_SOLLD``: the emulator runs for every
column every step through the Fortran API, but its (untrained) outputs cannot destabilize
the climate, so the run is as long as the conventional one. The host also runs its
conventional package in ML modes (fallback columns, reference budget), so the difference of
the two rows is the cost of coupling the emulator.

    python bench/bench_host.py OUTDIR [--steps 72] [--ranks 1 2]

Prints a markdown table (median steps/s over the logged steps after a warm-up) and writes it
to OUTDIR/bench_host.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from hybridge.online.host import run_host
from hybridge.testing.models import make_mlp_v1

WARMUP_STEPS = 6


def steps_per_second(run_dir: Path, nranks: int, steps: int, **namelist) -> float:
    run = run_host(run_dir, nranks, steps, **namelist)
    if not run.completed:
        raise SystemExit(
            f"bench_host: run in {run_dir} stopped after {run.steps_survived} of {steps} steps: {run.error}"
        )
    rates = [row["steps_per_s"] for row in run.rows[WARMUP_STEPS:]]
    return statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--steps", type=int, default=72)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    out = args.outdir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    model = out / "mlp_v1_4x512.pt"
    make_mlp_v1(model)
    common = {"mli_interval_steps": 0, "history_interval_steps": 0, "output_dir": "output"}
    rows = []
    for nranks in args.ranks:
        conv = steps_per_second(
            out / f"conventional_n{nranks}", nranks, args.steps, physics_mode="conventional", **common
        )
        ml = steps_per_second(
            out / f"ml_n{nranks}",
            nranks,
            args.steps,
            physics_mode="partial",
            ml_variables=["cam_out_SOLLD"],
            model_path=str(model),
            **common,
        )
        rows.append((nranks, conv, ml))
    lines = [
        "| ranks | conventional steps/s | + v1 MLP 4x512 steps/s | ms per step added by the emulator |",
        "|---:|---:|---:|---:|",
    ]
    for nranks, conv, ml in rows:
        lines.append(f"| {nranks} | {conv:.1f} | {ml:.1f} | {1e3 * (1 / ml - 1 / conv):.2f} |")
    table = "\n".join(lines)
    header = (
        f"Host model, {args.steps} steps of 1200 s, 384 columns, 1 thread per rank "
        f"(median over steps {WARMUP_STEPS + 1}..{args.steps}); `python bench/bench_host.py`\n\n"
    )
    (out / "bench_host.md").write_text(header + table + "\n")
    print(header + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
