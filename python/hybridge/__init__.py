"""hybridge: run PyTorch emulators of sub-grid physics inside Fortran climate models.

The Python API (the CLI ``hybridge ...`` is a thin layer over it)::

    import hybridge
    hybridge.export_model(net, "model.pt",
                          inputs=[{"name": "x", "layout": [("state_t", 8, "K"), ("state_ps", 1, "Pa")]}],
                          outputs=[{"name": "y", "shape": [8], "units": "K/s"}])
    manifest = hybridge.read_manifest("model.pt")

- export: :func:`export_model` (any ``nn.Module`` or scripted module with its tensor
  declarations), :func:`export_checkpoint` (a ``hybridge train`` checkpoint);
- manifests: :class:`Manifest`, :class:`TensorSpec`, :func:`tensor_spec`,
  :func:`read_manifest`, :func:`validate_manifest`, :class:`ManifestError`;
- training: :func:`load_config`, :func:`train`, :func:`register_model` (your own
  architecture, seen by ``hybridge train`` and ``hybridge export``);
- evaluation: :func:`evaluate`, :func:`check_model` (``hybridge inspect``).

Names are imported on first use, so ``import hybridge`` stays cheap (no torch) for
``hybridge config`` and the build-system helpers.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "export_model": "hybridge.export",
    "export_checkpoint": "hybridge.export",
    "Manifest": "hybridge.manifest",
    "TensorSpec": "hybridge.manifest",
    "Variable": "hybridge.manifest",
    "ManifestError": "hybridge.manifest",
    "tensor_spec": "hybridge.manifest",
    "read_manifest": "hybridge.manifest",
    "validate_manifest": "hybridge.manifest",
    "load_config": "hybridge.config",
    "train": "hybridge.training.loop",
    "register_model": "hybridge.models",
    "evaluate": "hybridge.evaluation",
    "check_model": "hybridge.inspect_model",
}

__all__ = [
    "Manifest",
    "ManifestError",
    "TensorSpec",
    "Variable",
    "__version__",
    "check_model",
    "evaluate",
    "export_checkpoint",
    "export_model",
    "load_config",
    "read_manifest",
    "register_model",
    "tensor_spec",
    "train",
    "validate_manifest",
]


def __getattr__(name: str):
    """Import a public name from its module on first use (PEP 562)."""
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'hybridge' has no attribute {name!r}")


def __dir__():
    """The public names, for ``dir(hybridge)`` and documentation tools."""
    return sorted(__all__)
