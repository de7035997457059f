"""Run a model on a probe batch and check what it returns against its manifest.

Shared by export (before a file is written) and ``hybridge inspect`` (a dry batch of a
model file): the calling convention is ``forward(*inputs, *states)`` returning one output,
or ``(*outputs, *new_states)``, every tensor with its column axis at ``batch_axis``.
"""

from __future__ import annotations

import torch

from ..manifest import Manifest, ManifestError, TensorSpec

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def with_columns(spec: TensorSpec, ncol: int) -> list[int]:
    """The model-layout shape of ``spec`` for ``ncol`` columns (column axis at ``batch_axis``)."""
    shape = list(spec.shape)
    shape.insert(spec.batch_axis, ncol)
    return shape


def probe_inputs(manifest: Manifest, ncol: int, seed: int = 0) -> list[torch.Tensor]:
    """Seeded standard-normal inputs and small states (0.1 x normal) in model layout."""
    g = torch.Generator().manual_seed(seed)
    args = []
    for role, specs in (("input", manifest.inputs), ("state", manifest.states)):
        for s in specs:
            t = torch.randn(with_columns(s, ncol), generator=g, dtype=torch.float64)
            args.append((0.1 * t if role == "state" else t).to(DTYPES[s.dtype]))
    return args


def split_outputs(manifest: Manifest, result, where: str) -> list[torch.Tensor]:
    """The forward's result as a list of ``outputs + states`` tensors, counted."""
    outs = list(result) if isinstance(result, (tuple, list)) else [result]
    want = len(manifest.outputs) + len(manifest.states)
    if len(outs) != want or not all(isinstance(t, torch.Tensor) for t in outs):
        raise ManifestError(
            f"{where}: the model returned {len(outs)} value(s); the manifest declares "
            f"{len(manifest.outputs)} output(s) + {len(manifest.states)} state(s), all tensors"
        )
    return outs


def check_outputs(manifest: Manifest, outs: list[torch.Tensor], ncol: int, where: str) -> None:
    """Shapes and dtypes of ``outs`` (outputs then new states) as the manifest declares."""
    for spec, t in zip(manifest.outputs + manifest.states, outs, strict=True):
        want = with_columns(spec, ncol)
        if list(t.shape) != want:
            raise ManifestError(f"{where}: '{spec.name}' has shape {list(t.shape)}, manifest says {want}")
        if t.dtype != DTYPES[spec.dtype]:
            raise ManifestError(f"{where}: '{spec.name}' is {t.dtype}, manifest says {spec.dtype}")


def run_checked(module, manifest: Manifest, args: list[torch.Tensor], where: str) -> list[torch.Tensor]:
    """``module(*args)`` without gradients, its results split and checked."""
    ncol = args[0].shape[manifest.inputs[0].batch_axis]
    with torch.no_grad():
        try:
            result = module(*args)
        except Exception as e:  # the model's own error (TorchScript raises several kinds)
            lines = [line.strip() for line in str(e).splitlines() if line.strip()]
            reason = lines[-1] if lines else type(e).__name__
            raise ManifestError(
                f"{where}: the forward failed on a probe batch of {ncol} columns: {reason}"
            ) from None
    outs = split_outputs(manifest, result, where)
    check_outputs(manifest, outs, ncol, where)
    return outs
