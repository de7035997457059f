"""Python reference of the v1 MLP fixture at several batch sizes, for test_pyref_mlp.

Batch composition changes the last bits of a column (DESIGN.md, practical notes), and so
can the number of intra-op threads (with libtorch 2.13 a batch of 7 columns differs
between 1 and 2 threads). So each batch of the first N columns is compared with Python on
the same N columns with the same thread count as the Fortran run. Writes
``mlp_v1.ncol<N>.threads<T>.ref.y.f64`` next to the fixtures (raw little-endian float64,
row-major [N, 128], i.e. Fortran y(128, N)), for the model file index.json names (a
TorchScript file or a .pt2 package).

Usage: python write_batch_refs.py FIXTURE_DIR THREADS N [N ...]
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from hybridge.testing.models import V1_NINPUT, reference


def main(fixture_dir: str, threads: int, ncols: list[int]) -> None:
    torch.set_num_threads(threads)
    d = Path(fixture_dir)
    x = np.fromfile(d / "mlp_v1.in.x.f64", dtype="<f8").reshape(-1, V1_NINPUT)
    records = json.loads((d / "index.json").read_text())["fixtures"]
    model = d / next(r["model"] for r in records if r["name"] == "mlp_v1")
    for n in ncols:
        y, _ = reference(model, {"x": x[:n]})
        out = d / f"mlp_v1.ncol{n}.threads{threads}.ref.y.f64"
        tmp = out.with_suffix(".tmp")
        np.ascontiguousarray(y["y"], dtype="<f8").tofile(tmp)
        os.replace(tmp, out)
        print(f"{out.name}: {n} columns, {threads} thread(s)")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), [int(n) for n in sys.argv[3:]])
