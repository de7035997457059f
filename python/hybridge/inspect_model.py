"""``hybridge inspect model.pt``: print the manifest, load the model, run one dry batch.

Exits non-zero with one clear line when anything is off: no or invalid manifest,
checksum mismatch (manifest moved onto other weights), a forward that fails, output
shapes that differ from the manifest, or non-finite outputs.
"""

from __future__ import annotations

import argparse
import contextlib
import json

import torch

from .data.climsim import input_stat
from .manifest import Manifest, ManifestError, model_checksum, read_manifest


def dry_inputs(spec, ncol: int) -> torch.Tensor:
    """Per-variable ClimSim mean where the variable is known, zeros elsewhere."""
    shape = [ncol, *list(spec.shape)]
    x = torch.zeros(shape, dtype=getattr(torch, spec.dtype))
    for v in spec.layout:
        with contextlib.suppress(KeyError):  # not a ClimSim input: zeros
            x[..., v.offset : v.offset + v.size] = torch.tensor(input_stat("mean", v.name, v.size))
    return x


def check_model(path, ncol: int = 8) -> tuple[Manifest, list[torch.Tensor]]:
    manifest = read_manifest(path)
    module = torch.jit.load(str(path), map_location="cpu")
    found = model_checksum(path)
    if found != manifest.checksum:
        raise ManifestError(
            f"{path}: checksum mismatch: manifest says {manifest.checksum}, the file's code, constants "
            f"and weights give {found}"
        )
    if manifest.states:
        raise ManifestError(f"{path}: recurrent state tensors are not supported by inspect's dry batch")
    inputs = [dry_inputs(s, ncol) for s in manifest.inputs]
    try:
        with torch.no_grad():
            out = module(*inputs)
    except Exception as e:  # TorchScript raises torch.jit.Error and RuntimeError alike
        raise RuntimeError(
            f"{path}: forward failed on a dry batch of {ncol} columns: {str(e).splitlines()[0]}"
        ) from None
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if len(outs) != len(manifest.outputs):
        raise ManifestError(
            f"{path}: model returned {len(outs)} outputs, manifest declares {len(manifest.outputs)}"
        )
    for spec, t in zip(manifest.outputs, outs, strict=False):
        want = [ncol, *list(spec.shape)]
        if list(t.shape) != want:
            raise ManifestError(
                f"{path}: output '{spec.name}' has shape {list(t.shape)}, manifest says {want}"
            )
        if str(t.dtype).removeprefix("torch.") != spec.dtype:
            raise ManifestError(f"{path}: output '{spec.name}' is {t.dtype}, manifest says {spec.dtype}")
        if not torch.isfinite(t).all():
            bad = [
                v.name for v in spec.layout if not torch.isfinite(t[..., v.offset : v.offset + v.size]).all()
            ]
            raise ManifestError(f"{path}: output '{spec.name}' is not finite in {bad}")
    return manifest, outs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="TorchScript model file written by hybridge export")
    p.add_argument("--ncol", type=int, default=8, help="columns in the dry batch")
    p.add_argument("--json", action="store_true", help="print the raw manifest JSON")


def _describe(spec) -> str:
    layout = " ".join(f"{v.name}({v.size})" if v.size > 1 else v.name for v in spec.layout)
    return f"  {spec.name}: {spec.dtype} {spec.shape}, batch axis {spec.batch_axis}\n    {layout}"


def run(args) -> int:
    manifest, outs = check_model(args.model, args.ncol)
    if args.json:
        print(manifest.to_json())
    else:
        print(f"{args.model}: {manifest.name} ({manifest.schema})")
        print("inputs:")
        for s in manifest.inputs:
            print(_describe(s))
        print("outputs:")
        for s in manifest.outputs:
            print(_describe(s))
        print("physics: " + json.dumps(manifest.physics, sort_keys=True))
        print("provenance: " + json.dumps(manifest.provenance, sort_keys=True))
        print(f"checksum: {manifest.checksum} (verified)")
    print(
        f"dry batch of {args.ncol} columns: ok, outputs "
        + ", ".join(f"{s.name}{list(t.shape)}" for s, t in zip(manifest.outputs, outs, strict=False))
    )
    return 0
