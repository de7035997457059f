"""``hybridge verify replay DIR``: prove a host's own coupling bit for bit.

A host run with the engine options ``record=DIR`` and ``record_calls=...`` or
``record_every=N`` leaves, per recorded call, the arrays the host bound (inputs, outputs)
and the recurrent state before and after (``csrc/engine/record.hpp``). This module reruns
each call in Python, the way the engine does it: the same casts (host dtype to the model's,
and back), the same fixed chunks of ``chunk`` columns with the last one padded by copies of
its last column, the same draws for a seeded model; then compares every output and new
state byte for byte with what the host got.

The first thing to run after coupling a new model: if the host packs a variable at the
wrong offset, forgets a cast or reads stale memory, the recorded inputs and outputs no longer
agree with the model.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from hybridge.manifest import UNBATCHED, model_checksum
from hybridge.verify.compare import Difference, compare

_TORCH = {"float32": torch.float32, "float64": torch.float64, "int32": torch.int32, "int64": torch.int64}
_MASK64 = (1 << 64) - 1


class ReplayError(ValueError):
    """Records that cannot be replayed: missing, malformed, or made with another model."""


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def draw_seed(seed: int, step: int, chunk_index: int) -> int:
    """The generator seed of one forward of a seeded model (csrc/engine/rng.cpp)."""
    return _splitmix64(_splitmix64(_splitmix64(seed) ^ (step & _MASK64)) ^ (chunk_index & _MASK64))


@dataclass
class CallReplay:
    """One recorded call rerun: its folder and how each output and new state compares."""

    folder: Path
    differences: list[Difference] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return all(d.equal for d in self.differences)


def _load(path: Path, what: str) -> np.ndarray:
    try:
        return np.load(path)
    except (OSError, ValueError) as e:
        raise ReplayError(f"{path}: cannot read the recorded {what}: {e}") from None


def _to_model(host: np.ndarray, spec: dict) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(host)).to(_TORCH[spec["dtype"]])
    return t if spec["batch_axis"] == UNBATCHED else t.movedim(0, spec["batch_axis"]).contiguous()


def _chunks(ncol: int, chunk: int):
    batch = chunk if chunk > 0 else ncol
    for index, first in enumerate(range(0, ncol, batch)):
        yield index, first, min(batch, ncol - first), batch


def _pad(a: np.ndarray, first: int, n: int, batch: int) -> np.ndarray:
    rows = a[first : first + n]
    if n == batch:
        return rows
    return np.concatenate([rows, np.repeat(rows[-1:], batch - n, axis=0)])


def replay_call(folder: Path, module: torch.jit.ScriptModule, meta: dict) -> CallReplay:
    """Rerun one recorded call with ``module`` and compare with what the host got."""
    inputs = {n: _load(folder / f"input.{n}.npy", f"input {n}") for n in meta["inputs"]}
    outputs = {n: _load(folder / f"output.{n}.npy", f"output {n}") for n in meta["outputs"]}
    state_in = {n: _load(folder / f"state_in.{n}.npy", f"state {n}") for n in meta["states"]}
    state_out = {n: _load(folder / f"state_out.{n}.npy", f"state {n}") for n in meta["states"]}
    batched = [n for n, s in meta["inputs"].items() if s["batch_axis"] != UNBATCHED]
    ncol = inputs[batched[0]].shape[0] if batched else 1
    got = {n: np.empty_like(a) for n, a in outputs.items()}
    new_state = {n: np.empty_like(a) for n, a in state_out.items()}
    specs_out = list(meta["outputs"].items()) + list(meta["states"].items())
    targets = [got[n] for n in meta["outputs"]] + [new_state[n] for n in meta["states"]]
    for index, first, n, batch in _chunks(ncol, int(meta["chunk"])):
        args = []
        for name, spec in meta["inputs"].items():
            a = inputs[name] if spec["batch_axis"] == UNBATCHED else _pad(inputs[name], first, n, batch)
            args.append(_to_model(a, spec))
        args += [
            _to_model(_pad(state_in[name], first, n, batch), spec) for name, spec in meta["states"].items()
        ]
        if meta.get("seed") is not None:
            torch.manual_seed(draw_seed(int(meta["seed"]), int(meta["step"]), index))
        with torch.inference_mode():
            result = module(*args)
        if isinstance(result, torch.Tensor):
            result = (result,)
        for (_, spec), t, target in zip(specs_out, result, targets, strict=True):
            if spec["batch_axis"] == UNBATCHED:
                target[...] = t.to(_TORCH[str(target.dtype)]).numpy()
            else:
                rows = t.movedim(spec["batch_axis"], 0)[:n].to(_TORCH[str(target.dtype)]).numpy()
                target[first : first + n] = rows
    report = CallReplay(folder)
    # ulps of the host's arrays: the precision the host received its results in
    for name in meta["outputs"]:
        report.differences.append(
            compare(f"output {name}", outputs[name], got[name], precision=str(outputs[name].dtype), name=name)
        )
    for name in meta["states"]:
        report.differences.append(
            compare(
                f"state {name}",
                state_out[name],
                new_state[name],
                precision=str(state_out[name].dtype),
                name=name,
            )
        )
    return report


def replay(record_dir, model=None) -> list[CallReplay]:
    """Rerun every call recorded in ``record_dir`` (with ``model``, default: the recorded path)."""
    record_dir = Path(record_dir)
    if not record_dir.is_dir():
        raise ReplayError(f"{record_dir}: no such folder of recorded calls")
    folders = sorted(p for p in record_dir.iterdir() if p.is_dir() and (p / "call.json").exists())
    if not folders:
        raise ReplayError(f"{record_dir}: no recorded calls (folders with a call.json)")
    modules: dict[Path, torch.jit.ScriptModule] = {}
    out = []
    for folder in folders:
        meta = json.loads((folder / "call.json").read_text())
        path = Path(model) if model else Path(meta["model"])
        if not path.exists():
            raise ReplayError(f"{folder}: the recorded model {path} is not there; pass --model")
        if path not in modules:
            found = model_checksum(path)
            if meta["checksum"] and found != meta["checksum"]:
                raise ReplayError(
                    f"{folder}: recorded with a model of checksum {meta['checksum']}, but {path} has "
                    f"{found}: replaying against another model proves nothing"
                )
            modules[path] = torch.jit.load(str(path), map_location="cpu").eval()
        out.append(replay_call(folder, modules[path], meta))
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("record_dir", help="the folder of the engine option record=DIR")
    p.add_argument("--model", help="the model file (default: the path recorded with each call)")


def run(args) -> int:
    """Print one line per recorded call; exit status 1 when any differs."""
    calls = replay(args.record_dir, args.model)
    for call in calls:
        if call.identical:
            print(f"{call.folder.name}: identical ({', '.join(d.tensor for d in call.differences)})")
        for d in call.differences:
            if not d.equal:
                print(
                    f"{call.folder.name}: DIFFERS: {d.where()}; max |diff| {d.max_abs_diff:.3g}, "
                    f"max {d.max_ulps} ulps"
                )
    bad = sum(not c.identical for c in calls)
    print(f"replay: {len(calls) - bad} of {len(calls)} recorded calls bit-identical to Python")
    return 1 if bad else 0
