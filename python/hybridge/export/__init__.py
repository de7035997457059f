"""Export a model as a file the hybridge engine loads, with an embedded manifest: TorchScript
(``format="torchscript"``, the default) or an AOTInductor package (``format="pt2"``).

Two entry points, both also at the top of the package (``import hybridge``):

- :func:`export_model`: any ``torch.nn.Module`` (or an already scripted one) with its
  declarations (named inputs, outputs, recurrent states; per-column shapes, batch axis,
  variable layout and units) in one call;
- :func:`export_checkpoint`: a ``hybridge train`` checkpoint (normalization and physics
  inside, physical units, the variable set's layout).

Export is two steps, so that another file format can be added beside TorchScript: a
``from_*`` function of :mod:`hybridge.export.prepare` makes the eager module, its manifest
and a probe batch (:class:`~hybridge.export.prepare.Prepared`); a writer in :data:`FORMATS`
turns that into a file (:func:`hybridge.export.torchscript.write_torchscript`,
:func:`hybridge.export.pt2.write_pt2`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from torch import nn

from ..checkpoint import CheckpointError
from ..manifest import Manifest
from .emulator import NO_PHYSICS, Emulator, emulator_from_checkpoint
from .prepare import Prepared, from_checkpoint, from_module
from .pt2 import write_pt2
from .torchscript import ExportError, write_torchscript

#: file format -> writer(prepared, path) -> Manifest
FORMATS = {"torchscript": write_torchscript, "pt2": write_pt2}


def _writer(fmt: str):
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    return FORMATS[fmt]


def _target(path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"{path} is a folder; give the model file's path")
    if not path.parent.is_dir():
        raise ExportError(f"folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise ExportError(f"folder {path.parent} is not writable")
    return path


def export_model(
    module: nn.Module,
    path: str | os.PathLike,
    *,
    inputs: Iterable,
    outputs: Iterable,
    states: Iterable = (),
    name: str = "model",
    example_inputs=None,
    physics: dict | None = None,
    provenance: dict | None = None,
    format: str = "torchscript",
) -> Manifest:
    """Write ``module`` with a manifest that declares its tensors; returns the manifest.

    ``inputs``, ``outputs`` and ``states`` are in the forward's order: it is called as
    ``forward(*inputs, *states)`` and returns one output, or ``(*outputs, *new_states)``.
    Each is a :class:`~hybridge.manifest.TensorSpec` or a dict of
    :func:`~hybridge.manifest.tensor_spec` arguments, e.g.
    ``{"name": "h", "shape": [2, 64], "batch_axis": 1}``. The module must compute in the
    units its declarations state (normalization inside). ``format`` is ``"torchscript"`` or
    ``"pt2"`` (an AOTInductor package for this machine's CPU, :mod:`hybridge.export.pt2`).
    The file is written only when every output has its declared shape and dtype and the
    written model reproduces the eager one on ``example_inputs`` (or seeded random inputs):
    a scripted module bit for bit, a package within the tolerance of
    :data:`hybridge.export.pt2.RTOL` (the largest difference, in ulps, goes into the
    manifest's provenance as ``export_check``)."""
    target = _target(path)
    prepared = from_module(
        module,
        inputs=inputs,
        outputs=outputs,
        states=states,
        name=name,
        example_inputs=example_inputs,
        physics=physics,
        provenance=provenance,
    )
    return _writer(format)(prepared, target)


def export_checkpoint(
    checkpoint,
    path: str | os.PathLike,
    physics: dict | None = None,
    no_physics: bool = False,
    format: str = "torchscript",
    probe_columns: int = 384,
) -> Manifest:
    """Write a training checkpoint's emulator (physical units, normalization and physics
    inside); ``physics`` overrides its physics options, ``no_physics`` writes the bare
    network; ``format`` as for :func:`export_model`. Returns the manifest written."""
    target = _target(path)
    return _writer(format)(from_checkpoint(checkpoint, physics, no_physics, probe_columns), target)


__all__ = [
    "FORMATS",
    "NO_PHYSICS",
    "CheckpointError",
    "Emulator",
    "ExportError",
    "Prepared",
    "emulator_from_checkpoint",
    "export_checkpoint",
    "export_model",
    "from_checkpoint",
    "from_module",
    "write_pt2",
    "write_torchscript",
]
