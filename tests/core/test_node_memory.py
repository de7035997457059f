"""Memory over many calls (issue 7): the resident set must not grow with the number of runs.
20,000 runs of a small model through the C ABI here; bench/bench_batching.py does 100,000."""

import numpy as np

from hybridge.manifest import read_manifest
from hybridge.testing import models

CALLS = 20_000
WARMUP = 2_000
GROWTH_BOUND_KIB = 4096  # allocator noise; a leak of even 200 bytes per call exceeds it


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def test_rss_does_not_grow_over_many_calls(c_model, mlp_small):
    x = models.example_inputs(read_manifest(mlp_small), 4, seed=0)["x"]
    y = np.empty((4, 128))
    with c_model(mlp_small, options={"threads": 1, "chunk": 4}) as m:
        for _ in range(WARMUP):
            m.bind("input", "x", x)
            m.bind("output", "y", y)
            m.run_bound()
        before = rss_kib()
        for _ in range(CALLS):
            m.bind("input", "x", x)
            m.bind("output", "y", y)
            m.run_bound()
        growth = rss_kib() - before
    assert growth < GROWTH_BOUND_KIB, f"RSS grew by {growth} KiB over {CALLS} calls"
