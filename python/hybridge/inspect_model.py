"""``hybridge inspect model.pt``: print the manifest, load the model, run one dry batch.

The model file is TorchScript or an AOTInductor package (``.pt2``), told from its content.

Exits non-zero with one clear line when anything is off: no or invalid manifest,
checksum mismatch (manifest moved onto other weights), a forward that fails, outputs or
states whose shape or dtype differ from the manifest, or non-finite outputs. Any grid and
any number of levels: the dry inputs are the model's own training means when it carries
them (a TorchScript ``hybridge export`` of a checkpoint), ClimSim's mean for a ClimSim variable of
ClimSim's size, zeros otherwise; recurrent states start at zero, as in the engine.
``--json`` prints exactly the manifest JSON on standard output (the check's line goes to
standard error), so that the output can be piped into a JSON reader.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

import torch

from .data.climsim import input_stat
from .export.checks import DTYPES, run_checked, with_columns
from .manifest import Manifest, ManifestError, model_checksum, read_manifest
from .model_file import load_model


def dry_inputs(module, manifest: Manifest, ncol: int) -> tuple[list[torch.Tensor], str]:
    """``(*inputs, *states)`` for a dry batch of ``ncol`` columns, and where the values came from."""
    args, sources = [], set()
    for spec in manifest.inputs:
        x = torch.zeros(with_columns(spec, ncol), dtype=DTYPES[spec.dtype])
        means = getattr(module, "x_mean", None)
        if isinstance(means, torch.Tensor) and len(spec.shape) == 1 and means.shape == (spec.shape[0],):
            x[:] = means.to(x.dtype)
            sources.add("the model's training means")
        else:
            for v in spec.layout:
                with contextlib.suppress(KeyError, ValueError):  # not a ClimSim input of that size
                    x[..., v.offset : v.offset + v.size] = torch.tensor(input_stat("mean", v.name, v.size))
                    sources.add("ClimSim means")
        args.append(x)
    args += [torch.zeros(with_columns(s, ncol), dtype=DTYPES[s.dtype]) for s in manifest.states]
    return args, " and ".join(sorted(sources)) or "zeros"


def check_model(path, ncol: int = 8) -> tuple[Manifest, list[torch.Tensor], str]:
    """Manifest, checksum and a dry batch: ``(manifest, outputs + new states, inputs' origin)``."""
    if ncol < 1:
        raise ValueError(f"--ncol must be at least 1, got {ncol}")
    manifest = read_manifest(path)
    module = load_model(path)
    found = model_checksum(path)
    if found != manifest.checksum:
        raise ManifestError(
            f"{path}: checksum mismatch: manifest says {manifest.checksum}, the file's code, constants "
            f"and weights give {found}"
        )
    args, origin = dry_inputs(module, manifest, ncol)
    outs = run_checked(module, manifest, args, str(path))
    for spec, t in zip(manifest.outputs, outs, strict=False):
        if not torch.isfinite(t).all():
            bad = [
                v.name for v in spec.layout if not torch.isfinite(t[..., v.offset : v.offset + v.size]).all()
            ]
            raise ManifestError(f"{path}: output '{spec.name}' is not finite in {bad or 'some entries'}")
    return manifest, outs, origin


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``hybridge inspect`` arguments."""
    p.add_argument("model", help="model file written by hybridge export (or the public export API)")
    p.add_argument("--ncol", type=int, default=8, help="columns in the dry batch")
    p.add_argument("--json", action="store_true", help="print only the manifest, as JSON")


def _describe(spec) -> str:
    layout = " ".join(f"{v.name}({v.size})" if v.size > 1 else v.name for v in spec.layout)
    return f"  {spec.name}: {spec.dtype} {spec.shape}, batch axis {spec.batch_axis}\n    {layout}"


def run(args) -> int:
    """Check the model, then print its manifest."""
    manifest, outs, origin = check_model(args.model, args.ncol)
    specs = manifest.outputs + manifest.states
    result = f"dry batch of {args.ncol} columns ({origin}): ok, " + ", ".join(
        f"{s.name}{list(t.shape)}" for s, t in zip(specs, outs, strict=False)
    )
    if args.json:
        print(manifest.to_json())
        print(result, file=sys.stderr)
        return 0
    print(f"{args.model}: {manifest.name} ({manifest.schema})")
    for role, group in (
        ("inputs", manifest.inputs),
        ("outputs", manifest.outputs),
        ("states", manifest.states),
    ):
        if group:
            print(f"{role}:")
            for s in group:
                print(_describe(s))
    print("physics: " + json.dumps(manifest.physics, sort_keys=True))
    print("provenance: " + json.dumps(manifest.provenance, sort_keys=True))
    print(f"checksum: {manifest.checksum} (verified)")
    print(result)
    return 0
