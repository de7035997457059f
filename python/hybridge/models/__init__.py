"""Emulator networks, by name. Each maps normalized x ``(ncol, n_in)`` to normalized y ``(ncol, n_out)``."""

from __future__ import annotations

from torch import nn

from ..data.variables import VariableSet
from .mlp import MLP
from .reslstm import ResLSTM
from .resmlp import ResMLP
from .unet1d import UNet1D

MODELS = {"mlp": MLP, "resmlp": ResMLP, "unet1d": UNet1D, "reslstm": ResLSTM}


def build_model(name: str, varset: VariableSet, options: dict | None = None) -> nn.Module:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    try:
        return MODELS[name](
            varset.n_in, varset.n_out, inputs=varset.inputs, outputs=varset.outputs, **(options or {})
        )
    except TypeError as e:
        raise ValueError(f"model {name!r}: bad option ({e})") from None
