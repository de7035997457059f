"""``hybridge export CHECKPOINT -o MODEL [--format pt2]``: a training checkpoint as a model
file, TorchScript or an AOTInductor package (.pt2) compiled for this machine."""

from __future__ import annotations

import argparse

import yaml

from ..checkpoint import load_checkpoint
from ..models import load_plugins
from ..physics import PhysicsError, physics_options
from . import FORMATS, _target, export_checkpoint


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``hybridge export`` arguments."""
    p.add_argument("checkpoint", help="training checkpoint (best.pt or last.pt)")
    p.add_argument("-o", "--out", required=True, help="model file to write")
    p.add_argument(
        "--physics",
        action="append",
        default=[],
        metavar="OPTION=VALUE",
        help="override a physics option, e.g. water_conservation=false (repeatable)",
    )
    p.add_argument("--no-physics", action="store_true", help="export the bare network (no physics step)")
    p.add_argument(
        "--plugin",
        action="append",
        default=[],
        help="module or .py file registering the model (when the checkpoint's plugins moved)",
    )
    p.add_argument(
        "--format",
        default="torchscript",
        choices=sorted(FORMATS),
        help="model file format: torchscript, or pt2 (an AOTInductor package for this machine's CPU)",
    )


def _overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise PhysicsError(f"--physics expects OPTION=VALUE, got {item!r}")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise PhysicsError(f"--physics {key}: value {value!r} is not valid YAML") from None
    return out


def run(args) -> int:
    """Check every argument, then export and report what was written."""
    overrides = _overrides(args.physics)
    if args.no_physics and overrides:
        raise PhysicsError("--no-physics and --physics contradict each other; give one")
    physics_options(overrides)  # an unknown option or a bad value -> error naming it
    _target(args.out)
    load_checkpoint(args.checkpoint)
    load_plugins(args.plugin)
    m = export_checkpoint(
        args.checkpoint, args.out, overrides, no_physics=args.no_physics, format=args.format
    )
    for note in m.provenance.get("physics_notes", []):
        print(f"physics: {note}")
    dims = lambda specs: ", ".join(f"{s.name}{s.shape}" for s in specs)  # noqa: E731
    print(f"wrote {args.out}: {m.name}, {dims(m.inputs)} -> {dims(m.outputs)}, {m.checksum}")
    if "export_check" in m.provenance:
        print(f"export check: {m.provenance['export_check']}")
    return 0
