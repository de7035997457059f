"""Instructions per call by stage, from callgrind profiles of bench/profile_forward.f90.

Usage: ``callgrind_stages.py NCALLS RAW_PROFILE HYBRIDGE_PROFILE...`` (files written by
``valgrind --tool=callgrind --toggle-collect=profile_timed_calls``; scripts/profile_call.sh).
Prints a markdown table: for raw libtorch and each hybridge profile, the instructions (Ir)
per call in total and, for hybridge, per stage of ``hyb_forward``, each stage the inclusive
cost of the functions that make it, divided by NCALLS. Instruction counts do not depend on
what else the machine runs, so two profiles of the same build agree to a few instructions.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# Stages of one hyb_forward: (label, functions whose inclusive cost it is). The functions are
# matched at the start of callgrind's name, so overloads count once each.
STAGES = [
    ("queries (hyb_model_count, hyb_model_tensor_info)", ["hyb_model_count", "hyb_model_tensor_info"]),
    ("binds (hyb_model_bind: registry, checks, bindings map)", ["hyb_model_bind"]),
    ("run: binding checks and non-finite scan (prepare_run)", ["hyb::Engine::prepare_run("]),
    ("run: the model's forward (TorchScript)", ["hyb::Engine::forward("]),
]
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


def main() -> None:
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    ncalls = int(sys.argv[1])
    raw_total, _ = inclusive_costs(Path(sys.argv[2]))
    raw = raw_total / ncalls
    columns = []
    for profile in sys.argv[3:]:
        total, costs = inclusive_costs(Path(profile))
        per_call = [cost_of(costs, prefixes) / ncalls for _, prefixes in STAGES]
        run = cost_of(costs, ["hyb_model_run"]) / ncalls
        rest_of_run = run - per_call[2] - per_call[3]
        wrapper = total / ncalls - run - per_call[0] - per_call[1]
        columns.append((Path(profile).name, total / ncalls, per_call, rest_of_run, wrapper))

    head = "| Ir per call | " + " | ".join(name for name, *_ in columns) + " |"
    lines = [head, "|---|" + "---:|" * len(columns)]
    for i, (label, _) in enumerate(STAGES):
        lines.append(f"| {label} | " + " | ".join(f"{c[2][i]:,.0f}" for c in columns) + " |")
    lines.append(
        "| run: views, casts, copies, bookkeeping (rest of hyb_model_run) | "
        + " | ".join(f"{c[3]:,.0f}" for c in columns)
        + " |"
    )
    lines.append(
        "| Fortran wrapper (rest of hyb_forward) | " + " | ".join(f"{c[4]:,.0f}" for c in columns) + " |"
    )
    lines.append("| **total** | " + " | ".join(f"**{c[1]:,.0f}**" for c in columns) + " |")
    lines.append(
        f"| raw libtorch forward (bench_reference_forward) | {raw:,.0f} |" + " |" * (len(columns) - 1)
    )
    lines.append(
        "| **bridge: total − raw libtorch** | " + " | ".join(f"**{c[1] - raw:,.0f}**" for c in columns) + " |"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
