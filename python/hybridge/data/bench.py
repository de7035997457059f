"""Throughput of the data pipeline, samples (columns) per second.

``python -m hybridge.data.bench [--data DIR] [--steps N] [--variables v1]``: without
``--data`` it writes N synthetic ClimSim-format time steps to a temporary directory.
Measures one pass of the streaming loader reading netCDF, the pass that fills the
``.npy`` cache, and a pass reading the cache, with 0 and 2 DataLoader workers.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from .dataset import ClimSimStream, make_loader
from .files import find_pairs
from .synthetic import write_climsim_dataset
from .variables import get_variable_set


def _pass(stream, workers: int) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = sum(x.shape[0] for x, _ in make_loader(stream, workers))
    return n, time.perf_counter() - t0


def bench(data, variables: str = "v1", batch_size: int = 1024, workers=(0, 2)) -> list[dict]:
    varset = get_variable_set(variables)
    pairs = find_pairs(data)
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for w in workers:
            n, s = _pass(ClimSimStream(pairs, varset, batch_size), w)
            rows.append({"source": "netCDF", "workers": w, "samples": n, "seconds": s})
        n, s = _pass(ClimSimStream(pairs, varset, batch_size, cache_dir=cache), 0)
        rows.append({"source": "netCDF -> .npy cache (fill)", "workers": 0, "samples": n, "seconds": s})
        for w in workers:
            n, s = _pass(ClimSimStream(pairs, varset, batch_size, cache_dir=cache), w)
            rows.append({"source": ".npy cache", "workers": w, "samples": n, "seconds": s})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hybridge.data.bench", description=__doc__.splitlines()[0])
    p.add_argument("--data", help="directory of .mli/.mlo files (default: synthetic)")
    p.add_argument("--steps", type=int, default=48, help="synthetic time steps to write")
    p.add_argument("--variables", default="v1")
    p.add_argument("--batch-size", type=int, default=1024)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            write_climsim_dataset(tmp, n_steps=args.steps)
            data = tmp
        rows = bench(data, args.variables, args.batch_size)
    print(
        f"data pipeline throughput ({args.variables}, batch {args.batch_size}, {rows[0]['samples']} samples)"
    )
    print(f"{'source':30s} {'workers':>7s} {'samples/s':>12s}")
    for r in rows:
        print(f"{r['source']:30s} {r['workers']:7d} {r['samples'] / r['seconds']:12.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
