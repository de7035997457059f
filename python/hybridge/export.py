"""Checkpoint -> TorchScript model file with the hybridge manifest embedded.

The exported module takes x and returns y in physical units (ClimSim layout and units
recorded in the manifest): normalization, network and :mod:`hybridge.physics` in one
scriptable module. Export refuses to write a file whose scripted module does not
reproduce the eager module bit for bit on a probe batch.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
from pathlib import Path

import torch
import yaml
from torch import nn

from . import __version__
from .checkpoint import CheckpointError, load_checkpoint, load_weights
from .data.variables import VariableSet
from .manifest import Manifest, TensorSpec, layout_from_sizes, read_manifest, save_model
from .models import build_model
from .physics import ColumnPhysics, physics_options

NO_PHYSICS = {"zero_top_levels": 0, "q_nonneg": False, "nonneg_fluxes": False, "water_conservation": False}


class Emulator(nn.Module):
    """``y = physics(x, net((x - x_mean) / x_range) / y_scale)``, float32, physical units."""

    def __init__(self, net: nn.Module, norm: dict, physics: ColumnPhysics):
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


def emulator_from_checkpoint(ckpt: dict, path, physics: dict | None = None):
    """The eager :class:`Emulator` of a training checkpoint (dict from
    :func:`~hybridge.checkpoint.load_checkpoint`), with its variable set and physics options;
    ``physics`` overrides the checkpoint's physics options."""
    varset = VariableSet.from_dict(ckpt["variables"], where=f"{path}: variables")
    net = build_model(ckpt["model"], varset, ckpt["model_options"])
    load_weights(net, ckpt["state_dict"], path)
    # the limiter's dt defaults to the training time step; an override (host dt) wins
    opts = {"dt": float(ckpt["dt"]), **ckpt.get("physics", {}), **(physics or {})}
    phys = ColumnPhysics(varset, opts)
    return Emulator(net, ckpt["normalization"], phys).eval(), varset, phys.options


def _git_hash() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() if out.returncode == 0 else ""
    except OSError:
        return ""


def build_manifest(ckpt: dict, varset: VariableSet, physics: dict, source: str) -> Manifest:
    x = TensorSpec(
        "x", [varset.n_in], "float32", 0, layout_from_sizes((n, s, varset.units(n)) for n, s in varset.inputs)
    )
    y = TensorSpec(
        "y",
        [varset.n_out],
        "float32",
        0,
        layout_from_sizes((n, s, varset.units(n)) for n, s in varset.outputs),
    )
    provenance = {
        "hybridge_version": __version__,
        "git": _git_hash(),
        "checkpoint": str(source),
        "data": ckpt.get("data", ""),
        "variable_set": varset.name,
        "model": ckpt["model"],
        "model_options": ckpt["model_options"],
        "normalization": ckpt.get("normalization_source", ""),
        "epoch": int(ckpt.get("epoch", 0)),
        "val_r2": float(ckpt.get("val_r2", float("nan"))),
        "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return Manifest(
        inputs=[x], outputs=[y], name=f"{ckpt['model']}-{varset.name}", physics=physics, provenance=provenance
    )


def export(checkpoint, out, physics: dict | None = None, probe_columns: int = 384) -> Manifest:
    """Export a training checkpoint as TorchScript with its manifest at ``out``.

    The export is refused unless the scripted model equals the eager one bit for bit on a
    probe batch of ``probe_columns`` columns. Returns the manifest written."""
    ckpt = load_checkpoint(checkpoint)
    eager, varset, phys_opts = emulator_from_checkpoint(ckpt, checkpoint, physics)
    scripted = torch.jit.script(eager)
    probe = probe_inputs(ckpt, probe_columns)
    with torch.no_grad():
        a, b = eager(probe), scripted(probe)
    if not torch.equal(a, b):
        diff = (a - b).abs().max().item()
        raise RuntimeError(f"scripted model differs from eager model (max |diff| {diff:g}); not written")
    save_model(scripted, build_manifest(ckpt, varset, phys_opts, checkpoint), out)
    return read_manifest(out)


def probe_inputs(ckpt: dict, ncol: int, seed: int = 0) -> torch.Tensor:
    """Inputs around the training normalization (mean +- a quarter of the range), float32."""
    g = torch.Generator().manual_seed(seed)
    norm = ckpt["normalization"]
    x = norm["x_mean"] + 0.25 * norm["x_range"] * torch.randn(
        ncol, norm["x_mean"].numel(), generator=g, dtype=norm["x_mean"].dtype
    )
    return x.float()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="training checkpoint (best.pt or last.pt)")
    p.add_argument("-o", "--out", required=True, help="TorchScript model file to write")
    p.add_argument(
        "--physics",
        action="append",
        default=[],
        metavar="OPTION=VALUE",
        help="override a physics option, e.g. water_conservation=false (repeatable)",
    )
    p.add_argument("--no-physics", action="store_true", help="export the bare network")


def run(args) -> int:
    overrides = dict(NO_PHYSICS) if args.no_physics else {}
    for item in args.physics:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--physics expects OPTION=VALUE, got {item!r}")
        overrides[key] = yaml.safe_load(value)
    physics_options(overrides)  # an unknown option -> error naming it
    m = export(args.checkpoint, args.out, overrides)
    print(
        f"wrote {args.out}: {m.name}, x[{m.inputs[0].shape[0]}] -> y[{m.outputs[0].shape[0]}], {m.checksum}"
    )
    return 0


__all__ = ["CheckpointError", "Emulator", "emulator_from_checkpoint", "export"]
