"""Benchmark: the same model as TorchScript and as an AOTInductor package (.pt2), time per
call through hybridge's C ABI (what the Fortran module calls), in one process.

    python bench/bench_formats.py [--out FILE.md] [--threads 1,2] [--ncol 1,16,384,4096]

Models, each written in both formats from the same weights:

- the ClimSim v1 MLP of the other benchmarks (124 -> 4 x 512 -> 128, float32,
  normalization inside; ``hybridge.testing.models.make_mlp_v1``);
- the toolkit's U-Net (``unet1d``, default options: 64 channels, depth 2) on the v1
  variables, exported from an untrained checkpoint with ClimSim normalization and the
  default physics inside (``hybridge.export.export_checkpoint``).

For every thread count and batch size, both files are loaded (``threads=N; chunk=0``), a
float64 host array of ``ncol`` columns is bound to each, and after warm-up calls the two
are called alternately, call by call, so that a slow spell of a shared machine hits both
alike; the table gives the median time per call of each and their ratio, and how far the
two outputs are apart (max ulps over values, counted in float32). The .pt2 compile time
is measured when the package is compiled here (``cached`` when HYBRIDGE_PT2_CACHE held it).
GPU rows need a CUDA build of torch and a CUDA package; without one the report says so.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hybridge import core
from hybridge.checkpoint import save_checkpoint
from hybridge.data import V1
from hybridge.data.normalization import climsim_normalization
from hybridge.export import export_checkpoint
from hybridge.export.prepare import from_checkpoint
from hybridge.export.pt2 import compile_package, exported_program
from hybridge.manifest import read_manifest
from hybridge.models import build_model
from hybridge.testing import models
from hybridge.verify.compare import ulps

BUDGET_S = 1.5  # timed seconds per format, batch size and thread count (at least MIN_REPS calls)
MIN_REPS, MAX_REPS = 5, 400


def _ints(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: positive integers, comma-separated")
    return values


def _compile_seconds(prepared) -> str:
    """Time AOTInductor's compile of the prepared model (the cache's copy when it has one)."""
    with tempfile.TemporaryDirectory() as tmp:
        ep = exported_program(prepared)
        t0 = time.perf_counter()
        cached = compile_package(ep, Path(tmp) / "timing.pt2")
        return "cached" if cached else f"{time.perf_counter() - t0:.1f} s"


def write_models(folder: Path) -> list[tuple[str, Path, Path, str]]:
    """(name, TorchScript file, .pt2 package, compile time) of each benchmark model."""
    from hybridge.export.checks import probe_inputs
    from hybridge.export.prepare import Prepared

    out = []
    torch.manual_seed(0)
    mlp_ts, mlp_pt2 = folder / "mlp_v1.pt", folder / "mlp_v1.pt2"
    manifest = models.make_mlp_v1(mlp_ts)
    torch.manual_seed(0)
    eager = models._V1MLP((512, 512, 512, 512), models.v1_normalization()).eval()
    compile_time = _compile_seconds(Prepared(eager, manifest, probe_inputs(manifest, 8)))
    models.make_mlp_v1(mlp_pt2, format="pt2")
    out.append(("v1 MLP 4x512", mlp_ts, mlp_pt2, compile_time))

    torch.manual_seed(0)
    net = build_model("unet1d", V1)
    checkpoint = folder / "unet1d.ckpt"
    save_checkpoint(
        {
            "model": "unet1d",
            "model_options": {},
            "variables": V1.to_dict(),
            "dt": 1200.0,
            "normalization": climsim_normalization(V1).to_tensors(),
            "state_dict": net.state_dict(),
        },
        checkpoint,
    )
    compile_time = _compile_seconds(from_checkpoint(checkpoint))
    unet_ts, unet_pt2 = folder / "unet1d.pt", folder / "unet1d.pt2"
    export_checkpoint(checkpoint, unet_ts)
    export_checkpoint(checkpoint, unet_pt2, format="pt2")
    out.append(("U-Net (unet1d, 64 ch, depth 2)", unet_ts, unet_pt2, compile_time))
    return out


class _Call:
    """One loaded file and its host arrays: a call binds both and runs, as hyb_forward does."""

    def __init__(self, path: Path, x: np.ndarray, threads: int):
        self.model = core.Model(path, options={"threads": threads, "chunk": 0, "device": "cpu"})
        self.x = x
        self.y = np.empty((x.shape[0], self.model.tensors("output")[0]["shape"][0]))

    def __call__(self) -> None:
        self.model.bind("input", "x", self.x)
        self.model.bind("output", "y", self.y)
        self.model.run_bound()


def time_pair(ts: Path, pt2: Path, x: np.ndarray, threads: int) -> tuple[float, float, int]:
    """(median s/call TorchScript, median s/call .pt2, max ulps between their outputs)."""
    a, b = _Call(ts, x, threads), _Call(pt2, x, threads)
    try:
        for call in (a, b):
            call()  # first calls: allocations, kernel selection
            call()
        t0 = time.perf_counter()
        a()
        b()
        reps = int(min(MAX_REPS, max(MIN_REPS, 2 * BUDGET_S / max(time.perf_counter() - t0, 1e-9))))
        times: dict[str, list[float]] = {"ts": [], "pt2": []}
        for _ in range(reps):
            for key, call in (("ts", a), ("pt2", b)):
                t0 = time.perf_counter()
                call()
                times[key].append(time.perf_counter() - t0)
        distance = int(ulps(a.y, b.y, "float32").max())
        return statistics.median(times["ts"]), statistics.median(times["pt2"]), distance
    finally:
        a.model.free()
        b.model.free()


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}" if seconds < 1 else f"{seconds * 1e3:.0f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="also write the report here")
    p.add_argument("--threads", type=_ints, default=[1, 2])
    p.add_argument("--ncol", type=_ints, default=[1, 16, 384, 4096])
    args = p.parse_args()
    lines = [
        "## TorchScript vs .pt2 (AOTInductor) through hybridge's C ABI",
        "",
        f"torch {torch.__version__}, CPU; `python bench/bench_formats.py` (make bench); median time per "
        "call of each file, the two called alternately in one process, float64 host arrays.",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        written = write_models(Path(tmp))
        lines += ["| model | .pt2 compile |", "|---|---|"]
        lines += [f"| {name} | {compile_time} |" for name, _, _, compile_time in written]
        lines += [
            "",
            "| model | threads | ncol | TorchScript [ms] | .pt2 [ms] | .pt2 / TorchScript | max ulps apart |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, ts, pt2, _ in written:
            n_in = read_manifest(ts).inputs[0].shape[0]
            x_all = models.example_inputs(read_manifest(ts), max(args.ncol), seed=0)["x"]
            assert x_all.shape[1] == n_in
            for threads in args.threads:
                for ncol in args.ncol:
                    t_ts, t_pt2, distance = time_pair(ts, pt2, np.ascontiguousarray(x_all[:ncol]), threads)
                    lines.append(
                        f"| {name} | {threads} | {ncol} | {_ms(t_ts)} | {_ms(t_pt2)} | "
                        f"{t_pt2 / t_ts:.2f} | {distance} |"
                    )
                    print(lines[-1], file=sys.stderr, flush=True)
    lines += [
        "",
        "GPU rows: "
        + (
            "a GPU is visible, but hybridge exports .pt2 packages for the CPU only; not timed."
            if torch.cuda.is_available()
            else "no GPU visible to this torch (a CPU build or no device): none."
        ),
        "",
        "Large ulp counts come from outputs near zero (physics residuals), where an ulp is tiny.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)


if __name__ == "__main__":
    main()
