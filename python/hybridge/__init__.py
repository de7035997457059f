"""hybridge: run PyTorch emulators of sub-grid physics inside Fortran climate models.

The Python API (the CLI ``hybridge ...`` is a thin layer over it)::

    import hybridge
    hybridge.export_model(net, "model.pt",
                          inputs=[{"name": "x", "layout": [("state_t", 8, "K"), ("state_ps", 1, "Pa")]}],
                          outputs=[{"name": "y", "shape": [8], "units": "K/s"}])
    manifest = hybridge.read_manifest("model.pt")

- export: ``export_model`` (any ``nn.Module`` or scripted module with its tensor
  declarations) and ``export_checkpoint`` (a ``hybridge train`` checkpoint), from
  :mod:`hybridge.export`;
- manifests: ``Manifest``, ``TensorSpec``, ``Variable``, ``tensor_spec``, ``read_manifest``,
  ``validate_manifest``, ``ManifestError``, from :mod:`hybridge.manifest`;
- training: ``load_config`` (:mod:`hybridge.config`), ``train``
  (:mod:`hybridge.training.loop`), ``register_model`` (:mod:`hybridge.models`: your own
  architecture, seen by ``hybridge train`` and ``hybridge export``);
- evaluation: ``evaluate`` (:mod:`hybridge.evaluation`), ``check_model``
  (``hybridge inspect``, :mod:`hybridge.inspect_model`).

Names are imported on first use: ``import hybridge`` itself does not load torch
(``hybridge.install``, the build-system helper, is imported through it).
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

# The API names are resolved by __getattr__ (listed by dir(hybridge)); documentation tools
# find them in their modules: hybridge.export, hybridge.manifest, hybridge.models, ...
__all__ = ["__version__"]


def __getattr__(name: str):
    """Import a public name from its module on first use (PEP 562)."""
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'hybridge' has no attribute {name!r}")


def __dir__():
    """The public names, for ``dir(hybridge)``."""
    return sorted([*__all__, *_API])
