"""Emulator networks, by name. Each maps normalized x ``(ncol, n_in)`` to normalized y ``(ncol, n_out)``.

The built-in families register themselves here; :mod:`hybridge.models.registry` says how
to add one of your own and what its constructor takes.
"""

from __future__ import annotations

from .mlp import MLP
from .registry import (
    ENTRY_POINT_GROUP,
    ModelError,
    ModelFamily,
    build_model,
    describe_models,
    load_plugins,
    model_family,
    register_model,
    registered_models,
)
from .reslstm import ResLSTM
from .resmlp import ResMLP
from .unet1d import UNet1D

register_model(
    "mlp", MLP, options={"hidden": "widths of the hidden layers: a list, or one integer for one layer"}
)
register_model(
    "resmlp", ResMLP, options={"width": "width of every residual block", "blocks": "residual blocks"}
)
register_model(
    "unet1d",
    UNet1D,
    options={
        "channels": "channels of the first level (doubled at each depth)",
        "depth": "down-sampling steps (levels padded to a multiple of 2**depth)",
    },
)
register_model(
    "reslstm",
    ResLSTM,
    options={"hidden": "LSTM hidden size per direction", "layers": "stacked bidirectional LSTM layers"},
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "MLP",
    "ModelError",
    "ModelFamily",
    "ResLSTM",
    "ResMLP",
    "UNet1D",
    "build_model",
    "describe_models",
    "load_plugins",
    "model_family",
    "register_model",
    "registered_models",
]
