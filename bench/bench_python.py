"""Benchmark row "Python": the same model called from Python through torch.jit.load.

Times ``module(x)`` on a float32 tensor prepared before the clock starts, exactly what
bench_libtorch.cpp times from C++, so the difference is Python's own call overhead.

Usage: python bench_python.py MODEL INPUT PLAN THREADS OUT_CSV OUTPUT_DIR
(the files and their formats are described in bench/prepare.py and bench_libtorch.cpp).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch


def read_plan(path: Path) -> tuple[int, int, list[tuple[int, int, int]]]:
    first, *rows = path.read_text().split("\n")
    ninput, noutput = (int(v) for v in first.split())
    batches = [tuple(int(v) for v in row.split()) for row in rows if row.strip()]
    return ninput, noutput, batches


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("model", "input", "plan"):
        p.add_argument(name, type=Path)
    p.add_argument("threads", type=int)
    p.add_argument("out_csv", type=Path)
    p.add_argument("output_dir", type=Path)
    args = p.parse_args()

    ninput, _noutput, batches = read_plan(args.plan)
    max_ncol = max(ncol for ncol, _, _ in batches)
    x_all = np.fromfile(args.input, dtype="<f8", count=max_ncol * ninput)
    if x_all.size != max_ncol * ninput:
        raise SystemExit(f"{args.input}: expected {max_ncol * ninput} float64 values, got {x_all.size}")
    x_all = x_all.reshape(max_ncol, ninput)

    torch.set_num_threads(args.threads)
    module = torch.jit.load(str(args.model), map_location="cpu")
    module.eval()
    lines = ["path,threads,ncol,seconds"]
    with torch.inference_mode():
        for ncol, warmup, reps in batches:
            x = torch.from_numpy(x_all[:ncol]).to(torch.float32)
            for _ in range(warmup):
                module(x)
            seconds = []
            for _ in range(reps):
                t0 = time.perf_counter()
                y = module(x)
                seconds.append(time.perf_counter() - t0)
            lines += [f"python,{args.threads},{ncol},{s:.9g}" for s in seconds]
            out = args.output_dir / f"python_t{args.threads}_n{ncol}.f64"
            y.to(torch.float64).numpy().astype("<f8").tofile(out.with_name(out.name + ".tmp"))
            os.replace(out.with_name(out.name + ".tmp"), out)
    tmp = args.out_csv.with_name(args.out_csv.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, args.out_csv)


if __name__ == "__main__":
    main()
