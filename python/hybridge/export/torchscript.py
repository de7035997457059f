"""The TorchScript writer: script the eager module, prove it equal, save it with its manifest.

A module is compiled with ``torch.jit.script`` (an already scripted one is kept as it is),
run on the probe batch beside the eager module, and written only when every output and
state is equal bit for bit (NaN where the eager one has NaN). The file carries the manifest
as the extra file ``hybridge_manifest.json`` with the checksum filled in
(:func:`hybridge.manifest.save_model`).
"""

from __future__ import annotations

import contextlib
import warnings

import torch

from ..manifest import Manifest, ManifestError, read_manifest, save_model
from .checks import run_checked
from .prepare import Prepared


class ExportError(ValueError):
    """A module cannot be written in the requested format."""


@contextlib.contextmanager
def _quiet():
    # TorchScript is the engine's format: torch's deprecation notice for it says nothing here
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=DeprecationWarning)
        yield


def script(module: torch.nn.Module, name: str) -> torch.jit.ScriptModule:
    """``torch.jit.script(module)`` with a one-line error naming the model."""
    if isinstance(module, torch.jit.ScriptModule):
        return module
    with _quiet():
        try:
            return torch.jit.script(module)
        except Exception as e:  # TorchScript's frontend raises many kinds
            lines = [line.strip() for line in str(e).splitlines() if line.strip()]
            where = next((line for line in lines if line.startswith("File ")), "")
            raise ExportError(
                f"model '{name}' cannot be compiled by TorchScript: {lines[0] if lines else type(e).__name__}"
                + (f" ({where})" if where else "")
            ) from None


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (
        a.shape == b.shape
        and a.dtype == b.dtype
        and torch.equal(torch.nan_to_num(a), torch.nan_to_num(b))
        and (torch.equal(torch.isnan(a), torch.isnan(b)))
    )


def write_torchscript(prepared: Prepared, path) -> Manifest:
    """Write ``prepared`` as a TorchScript file at ``path``; returns the manifest written."""
    m = prepared.manifest
    scripted = script(prepared.module, m.name)
    eager = run_checked(prepared.module, m, prepared.probe, f"model '{m.name}'")
    with _quiet():
        compiled = run_checked(scripted, m, prepared.probe, f"scripted model '{m.name}'")
    for spec, a, b in zip(m.outputs + m.states, eager, compiled, strict=True):
        if not _same(a, b):
            diff = (a.double() - b.double()).abs().nan_to_num().max().item()
            raise ManifestError(
                f"scripted model differs from eager model in '{spec.name}' (max |diff| {diff:g}); not written"
            )
    with _quiet():
        save_model(scripted, m, path)
    return read_manifest(path)
