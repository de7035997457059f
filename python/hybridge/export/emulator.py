"""The eager emulator of a training checkpoint: normalization, network and physics in one module.

``y = physics(x, net((x - x_mean) / x_range) / y_scale)`` in float32 and physical units.
Without physics (``--no-physics``, or when no option applies to the variable set) the
physics step is :class:`~hybridge.physics.NoPhysics`, which returns the network's outputs
as they are and builds nothing of :class:`~hybridge.physics.ColumnPhysics`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checkpoint import load_weights
from ..data.variables import VariableSet
from ..models import build_model, load_plugins
from ..physics import ColumnPhysics, NoPhysics, resolve_physics

NO_PHYSICS = {"zero_top_levels": 0, "q_nonneg": False, "nonneg_fluxes": False, "water_conservation": False}


class Emulator(nn.Module):
    """``y = physics(x, net((x - x_mean) / x_range) / y_scale)``, float32, physical units."""

    def __init__(self, net: nn.Module, norm: dict, physics: nn.Module):
        super().__init__()
        self.net = net
        self.register_buffer("x_mean", norm["x_mean"].float())
        self.register_buffer("x_range", norm["x_range"].float())
        scale = norm["y_scale"].float()
        # targets with zero scale (constant in the data) are returned as 0
        self.register_buffer("y_inv_scale", torch.where(scale != 0, 1.0 / scale, torch.zeros_like(scale)))
        self.physics = physics

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Physical-unit inputs ``[batch, nin]`` -> physical-unit outputs ``[batch, nout]``."""
        y = self.net((x - self.x_mean) / self.x_range) * self.y_inv_scale
        return self.physics(x, y)


def emulator_from_checkpoint(ckpt: dict, path, physics: dict | None = None, no_physics: bool = False):
    """``(eager Emulator, VariableSet, physics options, notes)`` of a training checkpoint
    (dict from :func:`~hybridge.checkpoint.load_checkpoint`).

    ``physics`` overrides the checkpoint's physics options; ``no_physics`` exports the bare
    network. ``notes`` say which default options were switched off and why."""
    varset = VariableSet.from_dict(ckpt["variables"], where=f"{path}: variables")
    load_plugins(ckpt.get("plugins", []))
    net = build_model(ckpt["model"], varset, ckpt["model_options"])
    load_weights(net, ckpt["state_dict"], path)
    grid = ckpt.get("grid") or {}
    hyai, hybi = grid.get("hyai"), grid.get("hybi")
    nlev = varset.nlev
    if hyai is None and nlev == 60:  # checkpoints from before the grid was recorded: ClimSim's
        has_grid = True
    else:
        has_grid = hyai is not None and nlev is not None and len(hyai) == nlev + 1
    if no_physics:
        opts, notes = {"dt": float(ckpt["dt"]), **NO_PHYSICS, "active": False}, []
    else:
        # the limiter's dt defaults to the training time step; an override (host dt) wins
        requested = {"dt": float(ckpt["dt"]), **ckpt.get("physics", {}), **(physics or {})}
        opts, notes = resolve_physics(varset, requested, has_grid=has_grid)
    phys = ColumnPhysics(varset, opts, hyai, hybi) if opts["active"] else NoPhysics()
    options = {k: v for k, v in opts.items() if k != "active"}
    return Emulator(net, ckpt["normalization"], phys).eval(), varset, options, notes
