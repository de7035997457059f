"""The rows of the verification matrix (names as in CIME's system tests) and their result.

A :class:`Row` is one comparison: a reference result against a candidate, every tensor or
netCDF variable compared byte for byte (:mod:`hybridge.verify.compare`). Rows whose
``expect_equal`` is False are measurements (e.g. PEM without reproducible batching): they
report the difference and never fail the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hybridge.verify.compare import Difference


@dataclass
class Row:
    test: str
    ranks: str
    threads: str
    differences: list[Difference] = field(default_factory=list)
    expect_equal: bool = True
    skipped: str = ""
    error: str = ""
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if self.skipped:
            return "SKIP"
        if not self.differences:
            return "ERROR"  # nothing was compared: never a pass
        equal = all(d.equal for d in self.differences)
        if not self.expect_equal:
            return "MEASURED" if not equal else "MEASURED(equal)"
        return "PASS" if equal else "FAIL"

    @property
    def failed(self) -> bool:
        return self.verdict in ("FAIL", "ERROR")

    @property
    def max_abs_diff(self) -> float:
        values = [d.max_abs_diff for d in self.differences if not d.equal]
        if any(math.isnan(v) for v in values):  # a NaN against a number: no finite bound
            return float("nan")
        return max(values, default=0.0)

    @property
    def max_ulps(self) -> int:
        return max((d.max_ulps for d in self.differences), default=0)

    def first_difference(self) -> Difference | None:
        return next((d for d in self.differences if not d.equal), None)

    def to_dict(self) -> dict:
        first = self.first_difference()
        return {
            "test": self.test,
            "ranks": self.ranks,
            "threads": self.threads,
            "verdict": self.verdict,
            "max_abs_diff": self.max_abs_diff,
            "max_ulps": self.max_ulps,
            "seconds": round(self.seconds, 2),
            "skipped": self.skipped,
            "error": self.error,
            "first_difference": None
            if first is None
            else {
                "tensor": first.tensor,
                "rank": first.rank,
                "local_column": first.local_column,
                "column": first.column,
                "variable": first.variable,
                "step": first.step,
                "n_different": first.n_different,
                "where": first.where(),
            },
        }


def format_table(rows: list[Row]) -> str:
    """The matrix as a text table, then one line per failing or measured row saying where
    the first difference is, and why a row was skipped."""
    header = ("test", "ranks", "threads", "max abs diff", "max ulps", "verdict", "time [s]")
    cells = [header] + [
        (
            r.test,
            r.ranks,
            r.threads,
            "-" if r.skipped or r.error else f"{r.max_abs_diff:.3e}",
            "-" if r.skipped or r.error else str(r.max_ulps),
            r.verdict,
            f"{r.seconds:.1f}",
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(header))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = []
    for r in rows:
        first = r.first_difference()
        if r.error:
            notes.append(f"{r.test}: error: {r.error}")
        elif r.skipped:
            notes.append(f"{r.test}: skipped: {r.skipped}")
        elif first is not None:
            notes.append(
                f"{r.test} [{r.ranks} ranks, {r.threads} threads]: first difference: {first.where()}"
            )
    return "\n".join(lines + (["", *notes] if notes else []))
