"""Benchmark: what the reproducible mode (option ``chunk=N``) costs against ``chunk=0``.

    python bench/bench_chunk.py [--out FILE.md] [--ncol 16,96,...,4608] [--chunk 16,32,...,384]

The ClimSim v1 MLP of the other benchmarks, one intra-op thread, float64 host arrays, through
hybridge's C ABI (bind both arrays, run: what ``hyb_forward`` does). For every column count
one handle per chunk size plus one with ``chunk=0`` are loaded and called in turn, call by
call, so that a slow spell of a shared machine hits all alike; the table gives the median
over rounds of each chunk size's time per call divided by ``chunk=0``'s in the same round.
A chunk larger than the columns pads them up to the chunk: that cost is in the table too.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from hybridge import core
from hybridge.testing import models

BUDGET_S = 2.0  # timed seconds per column count (at least MIN_ROUNDS rounds)
MIN_ROUNDS, MAX_ROUNDS = 5, 200


def _ints(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: positive integers, comma-separated")
    return values


class _Call:
    """One handle with its chunk size and host arrays: a call binds both and runs."""

    def __init__(self, path: Path, x: np.ndarray, chunk: int):
        self.model = core.Model(path, options={"threads": 1, "chunk": chunk, "device": "cpu"})
        self.x = x
        self.y = np.empty((x.shape[0], self.model.tensors("output")[0]["shape"][0]))

    def __call__(self) -> float:
        t0 = time.perf_counter()
        self.model.bind("input", "x", self.x)
        self.model.bind("output", "y", self.y)
        self.model.run_bound()
        return time.perf_counter() - t0


def time_chunks(path: Path, x: np.ndarray, chunks: list[int]) -> tuple[float, dict[int, float]]:
    """(median s/call with chunk=0, {chunk: median over rounds of its time / chunk=0's})."""
    calls = {c: _Call(path, x, c) for c in [0, *chunks]}
    try:
        for call in calls.values():
            call()  # first calls: allocations, kernel selection
        round_s = sum(call() for call in calls.values())
        rounds = int(min(MAX_ROUNDS, max(MIN_ROUNDS, BUDGET_S / max(round_s, 1e-9))))
        times: dict[int, list[float]] = {c: [] for c in calls}
        for r in range(rounds):
            order = list(calls) if r % 2 == 0 else list(calls)[::-1]
            for c in order:
                times[c].append(calls[c]())
        ratios = {
            c: statistics.median(t / t0 for t, t0 in zip(times[c], times[0], strict=True)) for c in chunks
        }
        return statistics.median(times[0]), ratios
    finally:
        for call in calls.values():
            call.model.free()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="also write the table to this markdown file")
    p.add_argument("--ncol", type=_ints, default=[16, 96, 128, 192, 384, 1024, 4608])
    p.add_argument("--chunk", type=_ints, default=[16, 32, 64, 96, 128, 384])
    args = p.parse_args()

    lines = [
        "# Reproducible mode: cost of `chunk=N` against `chunk=0`",
        "",
        "v1 MLP, 1 thread, float64 host arrays, all chunk sizes called in turn in one process; "
        "time per call with `chunk=0`, then the median ratio of each chunk size to it.",
        "",
        "| columns | chunk=0 | " + " | ".join(f"chunk={c}" for c in args.chunk) + " |",
        "|---:|---:|" + "---:|" * len(args.chunk),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mlp_v1.pt"
        manifest = models.make_mlp_v1(path)
        for ncol in args.ncol:
            x = models.example_inputs(manifest, ncol)[manifest.inputs[0].name].astype(np.float64)
            base, ratios = time_chunks(path, np.ascontiguousarray(x), args.chunk)
            cells = [f"{ratios[c]:.3f}" for c in args.chunk]
            lines.append(f"| {ncol} | {base * 1e3:.2f} ms | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    print(report, end="")
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
