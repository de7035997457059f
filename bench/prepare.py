"""Benchmark set-up: the ClimSim v1 MLP, its float64 inputs and the timing plan.

Every benchmark program (Fortran through hybridge, C++ on libtorch, Python) reads the
same three files, so all of them time the same model on the same columns:

``OUTDIR/mlp_v1.pt``
    ClimSim v1 MLP, 124 inputs -> 4 hidden layers of 512 -> 128 outputs, float32,
    normalization inside (takes and returns physical units), with its hybridge manifest.
``OUTDIR/x.f64``
    inputs for the largest batch, raw little-endian float64, row-major
    ``[ncol, 124]`` = Fortran ``x(124, ncol)``; a batch of n columns uses the first n.
``OUTDIR/plan.txt``
    ``ninput noutput`` on the first line, then one ``ncol warmup reps`` line per batch
    size: untimed warm-up calls, then timed calls. Read with list-directed I/O.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from hybridge.testing.models import example_inputs, make_mlp_v1


def parse_batch(text: str) -> tuple[int, int, int]:
    """``"384:15:60"`` -> (ncol, warmup, reps)."""
    try:
        ncol, warmup, reps = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"batch {text!r} is not ncol:warmup:reps") from None
    if ncol < 1 or warmup < 0 or reps < 1:
        raise argparse.ArgumentTypeError(f"batch {text!r}: need ncol>=1, warmup>=0, reps>=1")
    return ncol, warmup, reps


def write_replacing(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("batches", nargs="+", type=parse_batch, metavar="NCOL:WARMUP:REPS")
    args = p.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)

    manifest = make_mlp_v1(args.outdir / "mlp_v1.pt")
    (x_spec,), (y_spec,) = manifest.inputs, manifest.outputs
    max_ncol = max(ncol for ncol, _, _ in args.batches)
    x = example_inputs(manifest, max_ncol)[x_spec.name]
    write_replacing(args.outdir / "x.f64", lambda tmp: np.ascontiguousarray(x, dtype="<f8").tofile(tmp))
    lines = [f"{x_spec.shape[0]} {y_spec.shape[0]}"]
    lines += [f"{ncol} {warmup} {reps}" for ncol, warmup, reps in args.batches]
    write_replacing(args.outdir / "plan.txt", lambda tmp: tmp.write_text("\n".join(lines) + "\n"))


if __name__ == "__main__":
    main()
