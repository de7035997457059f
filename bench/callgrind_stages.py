"""Instructions per call by stage, from callgrind profiles of bench/profile_forward.f90.

Usage: ``callgrind_stages.py NCALLS RAW_PROFILE HYBRIDGE_PROFILE...`` (files written by
``valgrind --tool=callgrind --toggle-collect=profile_timed_calls``; scripts/profile_call.sh).
Prints a markdown table: for raw libtorch and each hybridge profile, the instructions (Ir)
per call in total and, for hybridge, per stage of ``hyb_forward``, each stage from the
inclusive costs of the functions that make it, divided by NCALLS. Instruction counts do not depend on
what else the machine runs, so two profiles of the same build agree to a few instructions.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# The calls of one hyb_forward: Fortran wrapper -> hyb_model_forward (C ABI: handle look-up
# and lock, the arguments as host arrays) -> Engine::forward_arrays (checks, non-finite scan,
# views, the model's forward, the copies into the outputs). Functions are matched at the start
# of callgrind's name, so overloads count once each.
ABI_CALL = ["hyb_model_forward"]
ENGINE_CALL = ["hyb::Engine::forward_arrays("]
CHECKS = ["hyb::check_host_array(", "hyb::Engine::prepare_run("]
MODEL_FORWARD = ["hyb::Engine::forward("]
TOTAL_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+PROGRAM TOTALS")
FUNCTION_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\S*?:(.+?)\s+\[")


def inclusive_costs(profile: Path) -> tuple[int, dict[str, int]]:
    """PROGRAM TOTALS and each function's inclusive Ir."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(profile)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    total, costs = 0, {}
    for line in text.splitlines():
        if m := TOTAL_LINE.match(line):
            total = int(m[1].replace(",", ""))
        elif m := FUNCTION_LINE.match(line):
            costs.setdefault(m[2], int(m[1].replace(",", "")))
    return total, costs


def cost_of(costs: dict[str, int], prefixes: list[str]) -> int:
    return sum(c for name, c in costs.items() if any(name.startswith(p) for p in prefixes))


def stages(total: int, costs: dict[str, int], ncalls: int) -> list[tuple[str, float]]:
    """(label, Ir per call) of each stage of one hyb_forward, then the total."""
    abi, engine = cost_of(costs, ABI_CALL), cost_of(costs, ENGINE_CALL)
    checks, model = cost_of(costs, CHECKS), cost_of(costs, MODEL_FORWARD)
    rows = [
        ("Fortran wrapper (hyb_forward less the C call)", total - abi),
        (
            "C ABI: handle look-up and lock, arguments as host arrays (hyb_model_forward less the engine)",
            abi - engine,
        ),
        ("engine: shape and dtype checks, non-finite scan (check_host_array, prepare_run)", checks),
        ("engine: the model's forward (TorchScript)", model),
        (
            "engine: views, casts, copies into the outputs, bookkeeping (rest of forward_arrays)",
            engine - checks - model,
        ),
        ("**total**", total),
    ]
    return [(label, ir / ncalls) for label, ir in rows]


def main() -> None:
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    ncalls = int(sys.argv[1])
    raw_total, _ = inclusive_costs(Path(sys.argv[2]))
    raw = raw_total / ncalls
    columns = []
    for profile in sys.argv[3:]:
        total, costs = inclusive_costs(Path(profile))
        columns.append((Path(profile).name, stages(total, costs, ncalls)))

    lines = [
        "| Ir per call | " + " | ".join(name for name, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for i, (label, _) in enumerate(columns[0][1]):
        lines.append(f"| {label} | " + " | ".join(f"{c[1][i][1]:,.0f}" for c in columns) + " |")
    lines.append(
        f"| raw libtorch forward (bench_reference_forward) | {raw:,.0f} |" + " |" * (len(columns) - 1)
    )
    lines.append(
        "| **bridge: total − raw libtorch** | "
        + " | ".join(f"**{c[1][-1][1] - raw:,.0f}**" for c in columns)
        + " |"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
