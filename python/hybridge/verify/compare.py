"""Bit-for-bit comparison of two results, and what to report when they differ.

Two arrays are equal only when their bytes are equal (no tolerance; NaN payloads and the
sign of zero count). When they differ, :class:`Difference` gives the largest absolute
difference, the largest difference in units in the last place (ulps) of the precision the
model computes in, and the first column that differs: its rank and column on that rank in
the decomposition under test, and the variable (from the manifest layout, e.g.
``ptend_t[12]``, the 13th level counted from the model top).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Difference:
    """How a tensor (or a netCDF variable) of the candidate differs from the reference."""

    tensor: str
    max_abs_diff: float = 0.0
    max_ulps: int = 0
    n_different: int = 0
    rank: int | None = None  # rank owning the first differing column
    local_column: int | None = None  # its index on that rank (0-based)
    column: int | None = None  # its global index (0-based)
    variable: str | None = None  # variable of the first differing value
    step: int | None = None  # time step (0-based) for results over several steps

    @property
    def equal(self) -> bool:
        return self.n_different == 0

    def where(self) -> str:
        if self.equal:
            return ""
        parts = [f"{self.tensor}: {self.n_different} values differ"]
        if self.step is not None:
            parts.append(f"step {self.step}")
        if self.rank is not None:
            parts.append(f"rank {self.rank} column {self.local_column} (global column {self.column})")
        elif self.column is not None:
            parts.append(f"global column {self.column}")
        if self.variable:
            parts.append(f"variable {self.variable}")
        return ", ".join(parts)


def ulps(a: np.ndarray, b: np.ndarray, precision: str = "float64") -> np.ndarray:
    """|a - b| in ulps of ``precision`` (float32 or float64), from the ordered integer
    representation, so that it counts the representable numbers between a and b."""
    ftype, itype = (np.float32, np.int32) if precision == "float32" else (np.float64, np.int64)
    ia = np.ascontiguousarray(a, dtype=ftype).view(itype).astype(np.int64)
    ib = np.ascontiguousarray(b, dtype=ftype).view(itype).astype(np.int64)
    sign_bit = np.int64(np.iinfo(itype).min)
    # Negative floats sort in reverse: map them below zero so that integer order = float order.
    ia = np.where(ia < 0, sign_bit - ia, ia)
    ib = np.where(ib < 0, sign_bit - ib, ib)
    return np.abs(ia - ib)


def column_owner(column: int, counts: Sequence[int]) -> tuple[int, int]:
    """(rank, local column) of a global column in a block decomposition with ``counts``."""
    start = 0
    for rank, n in enumerate(counts):
        if column < start + n:
            return rank, column - start
        start += n
    raise IndexError(f"column {column} is beyond the {start} columns of the decomposition")


def variable_at(index: int, layout: Sequence[tuple[str, int, int]] | None, tensor: str) -> str:
    """Name of the value at flat per-column ``index``: ``ptend_t[12]`` from a layout
    [(name, offset, size)], else ``tensor[index]``."""
    for name, offset, size in layout or ():
        if offset <= index < offset + size:
            return name if size == 1 else f"{name}[{index - offset}]"
    return f"{tensor}[{index}]"


def compare(
    tensor: str,
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    precision: str = "float64",
    counts: Sequence[int] | None = None,
    layout: Sequence[tuple[str, int, int]] | None = None,
    column_axis: int = 0,
    step_axis: int | None = None,
    name: str | None = None,
) -> Difference:
    """Compare two arrays byte for byte.

    ``column_axis`` is the axis of the (global) columns; ``step_axis`` an optional time
    axis. The remaining axes are flattened, per column, into the index that ``layout``
    names. ``counts`` (columns per rank) turns the first differing column into rank and
    local column. ``name`` (default ``tensor``) names values the layout does not cover.
    """
    reference = np.asarray(reference)
    candidate = np.asarray(candidate)
    if reference.shape != candidate.shape or reference.dtype != candidate.dtype:
        raise ValueError(
            f"{tensor}: cannot compare {reference.dtype}{list(reference.shape)} "
            f"with {candidate.dtype}{list(candidate.shape)}"
        )
    d = Difference(tensor)
    if reference.tobytes() == candidate.tobytes():
        return d
    a = np.moveaxis(reference, column_axis, -1)
    b = np.moveaxis(candidate, column_axis, -1)
    if step_axis is not None:
        step_axis = step_axis if step_axis < column_axis else step_axis - 1
        a = np.moveaxis(a, step_axis, 0)
        b = np.moveaxis(b, step_axis, 0)
    else:
        a, b = a[None], b[None]
    nstep, ncol = a.shape[0], a.shape[-1]
    # [step, column, value]: the first difference in this order is the one reported.
    a = np.ascontiguousarray(np.moveaxis(a.reshape(nstep, -1, ncol), -1, 1))
    b = np.ascontiguousarray(np.moveaxis(b.reshape(nstep, -1, ncol), -1, 1))
    as_bits = np.dtype(f"u{a.dtype.itemsize}")
    differs = a.view(as_bits) != b.view(as_bits)
    d.n_different = int(differs.sum())
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))[differs]
    d.max_abs_diff = float(np.nanmax(diff)) if np.isfinite(diff).any() else float("nan")
    d.max_ulps = int(ulps(a[differs], b[differs], precision).max())
    step, column, index = (int(i) for i in np.argwhere(differs)[0])
    d.step = step if step_axis is not None else None
    d.column = column
    if counts is not None:
        d.rank, d.local_column = column_owner(column, counts)
    d.variable = variable_at(index, layout, name or tensor)
    return d


def compare_all(
    reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray], **kwargs
) -> list[Difference]:
    """:func:`compare` for every tensor of ``reference``; a tensor missing from the
    candidate is an error naming it. ``layouts`` and ``precisions`` (dicts by tensor)
    give per-tensor ``layout`` and ``precision``."""
    layouts = kwargs.pop("layouts", {}) or {}
    precisions = kwargs.pop("precisions", {}) or {}
    missing = sorted(set(reference) - set(candidate))
    if missing:
        raise KeyError(f"candidate lacks {', '.join(missing)}")
    return [
        compare(
            name,
            reference[name],
            candidate[name],
            layout=layouts.get(name),
            precision=precisions.get(name, "float64"),
            **kwargs,
        )
        for name in reference
    ]
