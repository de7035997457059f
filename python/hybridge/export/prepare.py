"""What every export format starts from: the eager module, its manifest and a probe batch.

:func:`from_module` takes any ``nn.Module`` (or an already scripted one) with tensor
declarations; :func:`from_checkpoint` a training checkpoint. A writer
(:mod:`hybridge.export.torchscript`, and later others) turns the :class:`Prepared` into a
file; nothing here depends on the file format.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from .. import __version__
from ..checkpoint import load_checkpoint
from ..data.variables import VariableSet
from ..manifest import Manifest, ManifestError, TensorSpec, layout_from_sizes, tensor_spec
from .checks import DTYPES, probe_inputs, run_checked
from .emulator import emulator_from_checkpoint


@dataclasses.dataclass
class Prepared:
    """An eager (or scripted) module in eval mode, its manifest (checksum left empty) and
    the probe arguments ``(*inputs, *states)`` a writer checks the written model on."""

    module: nn.Module
    manifest: Manifest
    probe: list[torch.Tensor]
    notes: list[str] = dataclasses.field(default_factory=list)


def _git_hash() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() if out.returncode == 0 else ""
    except OSError:
        return ""


def _base_provenance() -> dict:
    return {
        "hybridge_version": __version__,
        "git": _git_hash(),
        "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _as_spec(s) -> TensorSpec:
    if isinstance(s, TensorSpec):
        s.validate("tensor")
        return s
    if isinstance(s, Mapping):
        return tensor_spec(**s)
    raise ManifestError(f"a tensor declaration must be a TensorSpec or a dict, got {s!r}")


def _probe_from(example, manifest: Manifest) -> list[torch.Tensor]:
    names = [s.name for s in manifest.inputs + manifest.states]
    if isinstance(example, Mapping):
        missing = [n for n in names if n not in example]
        if missing:
            raise ManifestError(f"example_inputs has no tensor for {missing}")
        example = [example[n] for n in names]
    example = list(example) if isinstance(example, (list, tuple)) else [example]
    if len(example) != len(names):
        raise ManifestError(f"example_inputs has {len(example)} tensors; the forward takes {names}")
    return list(example)


def from_module(
    module: nn.Module,
    *,
    inputs: Iterable,
    outputs: Iterable,
    states: Iterable = (),
    name: str = "model",
    example_inputs=None,
    physics: dict | None = None,
    provenance: dict | None = None,
    probe_columns: int = 8,
) -> Prepared:
    """Declarations and a module -> :class:`Prepared`, the forward checked on a probe batch.

    ``inputs``/``outputs``/``states`` are :class:`~hybridge.manifest.TensorSpec` s or dicts of
    :func:`~hybridge.manifest.tensor_spec` arguments, in the order of the forward's
    arguments (inputs, then states) and of its returned tuple (outputs, then new states).
    ``example_inputs``: the probe (tensors in model layout, a list or a dict by name);
    without it, seeded random inputs of ``probe_columns`` columns."""
    if not isinstance(module, nn.Module):
        raise ManifestError(
            f"export takes a torch.nn.Module or a scripted module, got {type(module).__name__}"
        )
    manifest = Manifest(
        inputs=[_as_spec(s) for s in inputs],
        outputs=[_as_spec(s) for s in outputs],
        states=[_as_spec(s) for s in states],
        name=name,
        physics=dict(physics or {}),
        provenance={**_base_provenance(), **(provenance or {})},
    )
    manifest.validate()
    probe = (
        probe_inputs(manifest, probe_columns)
        if example_inputs is None
        else _probe_from(example_inputs, manifest)
    )
    module = module.eval()
    run_checked(module, manifest, probe, f"model '{name}'")
    return Prepared(module, manifest, probe)


def _finite_or_none(value) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _layout(entries, varset: VariableSet):
    return layout_from_sizes((n, s, varset.units(n)) for n, s in entries)


def from_checkpoint(
    checkpoint, physics: dict | None = None, no_physics: bool = False, probe_columns: int = 384
) -> Prepared:
    """A training checkpoint -> :class:`Prepared`: x ``[n_in]`` -> y ``[n_out]`` in physical
    units with the variable layout and units, the training and validation periods in the
    provenance (``evaluate`` skips the training steps by them)."""
    ckpt = load_checkpoint(checkpoint)
    eager, varset, options, notes = emulator_from_checkpoint(ckpt, checkpoint, physics, no_physics)
    provenance = {
        **_base_provenance(),
        "checkpoint": str(checkpoint),
        "data": ckpt.get("data", ""),
        "variable_set": varset.name,
        "model": ckpt["model"],
        "model_options": ckpt["model_options"],
        "plugins": ckpt.get("plugins", []),
        "normalization": ckpt.get("normalization_source", ""),
        "epoch": int(ckpt.get("epoch", 0)),
        # null when the checkpoint has none or a NaN one (NaN is not JSON: the engine refuses it)
        "val_r2": _finite_or_none(ckpt.get("val_r2")),
        "split": ckpt.get("split", {}),
        "grid": (ckpt.get("grid") or {}).get("source", ""),
        "physics_notes": notes,
    }
    ranges = ckpt.get("training_ranges") or {}  # checkpoints before hybridge 0.2 have none
    manifest = Manifest(
        inputs=[
            TensorSpec("x", [varset.n_in], "float32", 0, _layout(varset.inputs, varset), ranges.get("x"))
        ],
        outputs=[
            TensorSpec("y", [varset.n_out], "float32", 0, _layout(varset.outputs, varset), ranges.get("y"))
        ],
        name=f"{ckpt['model']}-{varset.name}",
        physics=options,
        provenance=provenance,
    )
    norm = ckpt["normalization"]
    g = torch.Generator().manual_seed(0)
    # inputs around the training normalization (mean +- a quarter of the range)
    x = norm["x_mean"] + 0.25 * norm["x_range"] * torch.randn(
        probe_columns, norm["x_mean"].numel(), generator=g, dtype=norm["x_mean"].dtype
    )
    probe = [x.to(DTYPES["float32"])]
    run_checked(eager, manifest, probe, f"{checkpoint}")
    return Prepared(eager, manifest, probe, notes)
