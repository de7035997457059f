"""The hybridge model manifest: what a model file promises to the engine.

A hybridge model is one file with this JSON manifest inside: a TorchScript archive
carries it as the extra file ``hybridge_manifest.json`` (``torch.jit.save(...,
_extra_files=...)``), an AOTInductor package (``.pt2``) as its extra file
``extra/hybridge_manifest.json`` (:mod:`hybridge.export.pt2`). The C++ engine reads it at
load and refuses a model that does not match what the host declares.

Calling convention of a hybridge model::

    forward(*inputs, *states) -> output            # one output, no state
    forward(*inputs, *states) -> (*outputs, *new_states)

in manifest order; the names of forward's arguments must be the input names, then the
state names (the engine checks them). Every tensor has a per-column ``shape`` (PyTorch
order, no column axis) and a ``batch_axis``: where the column axis sits in the model's
tensor (0 for ``[ncol, nfeature]``; 1 for an RNN hidden state ``[layers, ncol, hidden]``;
-1 for an input or output without a column axis, passed whole). dtypes: float32, float64,
int32, int64 (integer inputs such as a surface type or a month index).

The checksum covers everything in the model file that decides its outputs: its code,
constants and weights (see :func:`model_checksum`), so a manifest moved onto another model,
or a model whose code was edited, is detected.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterable
from typing import Any

import torch

SCHEMA = "hybridge-manifest/1"
EXTRA_FILE = "hybridge_manifest.json"
DTYPES = ("float32", "float64", "int32", "int64")
UNBATCHED = -1  # batch_axis of a tensor without a column axis
MAX_COLUMN_NDIM = 7  # HYB_MAX_NDIM (8) in hybridge.h, less the column axis


class ManifestError(ValueError):
    """A manifest is missing, malformed, or does not match its model."""


@dataclasses.dataclass
class Variable:
    """A named slice of a tensor's last axis, e.g. ``state_t`` at offset 0, size 60."""

    name: str
    offset: int
    size: int
    units: str = ""


@dataclasses.dataclass
class TensorSpec:
    """One model input, output or recurrent state (per-column shape, no column axis)."""

    name: str
    shape: list[int]
    dtype: str = "float32"
    batch_axis: int = 0
    layout: list[Variable] = dataclasses.field(default_factory=list)
    # What training saw, per value of a column (flattened per-column shape), physical units:
    # {"min": [...], "max": [...], "mean": [...], "std": [...]}. The engine's guard
    # (option guard=fallback|clip) compares inputs and outputs with min and max.
    training: dict[str, list[float]] | None = None

    def validate(self, role: str) -> None:
        """Raise :class:`ManifestError` naming the problem when this tensor spec is not valid."""
        where = f"{role} '{self.name}'"
        if not self.name or not (self.name.isascii() and self.name.replace("_", "").isalnum()):
            raise ManifestError(f"{where}: name must be a non-empty ASCII identifier")
        if len(self.shape) > MAX_COLUMN_NDIM:
            raise ManifestError(
                f"{where}: per-column shape {self.shape} has more than {MAX_COLUMN_NDIM} axes"
            )
        if self.dtype not in DTYPES:
            raise ManifestError(f"{where}: dtype {self.dtype!r} is not one of {DTYPES}")
        if any((not isinstance(d, int)) or d <= 0 for d in self.shape):
            raise ManifestError(f"{where}: shape {self.shape} must be positive integers")
        if self.batch_axis == UNBATCHED:
            if role == "state":
                raise ManifestError(f"{where}: batch_axis -1 (no column axis) is for inputs and outputs")
        elif not 0 <= self.batch_axis <= len(self.shape):
            raise ManifestError(f"{where}: batch_axis {self.batch_axis} outside 0..{len(self.shape)} (or -1)")
        if self.layout:
            end = 0
            for v in self.layout:
                if v.offset != end or v.size <= 0:
                    raise ManifestError(
                        f"{where}: layout variable '{v.name}' at offset {v.offset} size "
                        f"{v.size}; expected contiguous slices starting at {end}"
                    )
                end += v.size
            if not self.shape or end != self.shape[-1]:
                last = self.shape[-1] if self.shape else None
                raise ManifestError(f"{where}: layout covers {end} entries, last axis has {last}")
        if self.training is not None:
            self._validate_training(where)

    def _validate_training(self, where: str) -> None:
        n = 1
        for d in self.shape:
            n *= d
        if set(self.training) != {"min", "max", "mean", "std"}:
            raise ManifestError(
                f"{where}: training statistics must be min, max, mean and std, got {sorted(self.training)}"
            )
        for key, values in self.training.items():
            if len(values) != n or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
                raise ManifestError(
                    f"{where}: training {key} must be {n} finite numbers (one per value of a column)"
                )
        if any(lo > hi for lo, hi in zip(self.training["min"], self.training["max"], strict=True)):
            raise ManifestError(f"{where}: training min above max")

    def variable(self, name: str) -> Variable:
        """The layout entry of variable ``name`` (KeyError when absent)."""
        for v in self.layout:
            if v.name == name:
                return v
        raise KeyError(f"{self.name} has no variable {name!r}")


def tensor_spec(
    name: str,
    shape: Iterable[int] | None = None,
    *,
    layout: Iterable[tuple] | None = None,
    units: str = "",
    dtype: str = "float32",
    batch_axis: int = 0,
) -> TensorSpec:
    """A validated :class:`TensorSpec` from plain values.

    ``shape`` is per column (no column axis), e.g. ``[124]`` or ``[2, 60]``; without it the
    last axis is the sum of the ``layout`` sizes. ``layout`` lists ``(variable, size[,
    units])`` along the last axis, e.g. ``[("state_t", 8, "K"), ("state_ps", 1, "Pa")]``;
    without one, ``units`` (when given) becomes a one-variable layout named after the
    tensor. ``batch_axis`` is where the column axis sits in the model's tensor (1 for an
    RNN state ``[layers, ncol, hidden]``)."""
    entries = layout_from_sizes(layout) if layout else []
    if shape is None:
        if not entries:
            raise ManifestError(f"tensor '{name}': give a shape or a layout")
        shape = [sum(v.size for v in entries)]
    shape = [int(d) for d in shape]
    if not entries and units and shape:
        entries = [Variable(name, 0, shape[-1], units)]
    spec = TensorSpec(name, shape, dtype, int(batch_axis), entries)
    spec.validate("tensor")
    return spec


def layout_from_sizes(pairs: Iterable[tuple[str, int] | tuple[str, int, str]]) -> list[Variable]:
    """``[("state_t", 60, "K"), ("state_ps", 1, "Pa")]`` -> contiguous :class:`Variable` s."""
    out, offset = [], 0
    for p in pairs:
        name, size = p[0], int(p[1])
        units = p[2] if len(p) > 2 else ""
        out.append(Variable(name, offset, size, units))
        offset += size
    return out


@dataclasses.dataclass
class Manifest:
    """Everything the engine and a host need to know about a model file."""

    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    states: list[TensorSpec] = dataclasses.field(default_factory=list)
    name: str = "model"
    normalization: str = "inside"  # the model takes and returns physical units
    physics: dict[str, Any] = dataclasses.field(default_factory=dict)
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)
    checksum: str = ""
    schema: str = SCHEMA

    def validate(self) -> None:
        """Raise :class:`ManifestError` naming the problem when the manifest is not valid."""
        if self.schema != SCHEMA:
            raise ManifestError(f"schema {self.schema!r}; this hybridge reads {SCHEMA!r}")
        if not self.inputs or not self.outputs:
            raise ManifestError("a manifest needs at least one input and one output")
        seen: set[str] = set()
        for role, specs in (("input", self.inputs), ("output", self.outputs), ("state", self.states)):
            for s in specs:
                s.validate(role)
                if s.name in seen:
                    raise ManifestError(f"tensor name '{s.name}' used twice")
                seen.add(s.name)
        if self.normalization != "inside":
            raise ManifestError("normalization must be 'inside' (models take physical units)")

    def to_json(self) -> str:
        """The manifest as JSON text (the ``hybridge_manifest.json`` a model file carries)."""
        try:
            return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True, allow_nan=False)
        except ValueError:  # NaN or infinity: Python would write them, JSON parsers refuse them
            raise ManifestError(
                f"manifest of '{self.name}' holds a NaN or infinite number (physics or provenance); "
                "JSON cannot carry it"
            ) from None

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse and validate manifest JSON text (:class:`ManifestError` naming the problem)."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise ManifestError(f"manifest is not valid JSON: {e}") from None
        try:

            def spec(d: dict) -> TensorSpec:
                d = dict(d)
                d["layout"] = [Variable(**v) for v in d.get("layout", [])]
                return TensorSpec(**d)

            m = cls(
                **{
                    **raw,
                    "inputs": [spec(d) for d in raw["inputs"]],
                    "outputs": [spec(d) for d in raw["outputs"]],
                    "states": [spec(d) for d in raw.get("states", [])],
                }
            )
        except (KeyError, TypeError) as e:
            raise ManifestError(f"manifest has a missing or unknown field: {e}") from None
        m.validate()
        return m


# Records of a model archive that change with every save, or that hold the checksum.
_UNHASHED_RECORDS = (".data/serialization_id", "extra/" + EXTRA_FILE)


def model_checksum(path: str | os.PathLike) -> str:
    """sha256 over everything in a model file that decides its outputs.

    Every record of the file's zip archive (code, constants, weights), sorted by name,
    except the manifest itself and torch's per-save serialization id; for each record:
    name, NUL, size in decimal, NUL, the bytes. The C++ engine computes the same digest at
    load (``archive_checksum`` in csrc/engine/backend.hpp).
    """
    try:
        reader = torch._C.PyTorchFileReader(os.fspath(path))
    except RuntimeError as e:
        raise ManifestError(f"{path}: not a model archive: {str(e).splitlines()[0]}") from None
    h = hashlib.sha256()
    for name in sorted(reader.get_all_records()):
        if name in _UNHASHED_RECORDS:
            continue
        data = reader.get_record(name)
        h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0")
        h.update(data)
    return "sha256:" + h.hexdigest()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_model(module: torch.jit.ScriptModule, manifest: Manifest, path: str | os.PathLike) -> None:
    """Write a scripted model with its manifest (checksum filled in), atomically; the file
    gets the mode a plain ``open`` would give it (0666 less the umask).

    The model is saved once without the manifest to take the checksum of its contents, then
    with it; the second save's contents must give the same checksum (torch writes them
    deterministically), which is checked.
    """
    manifest.validate()
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = _temp_path(folder)
    try:
        torch.jit.save(module, tmp)
        manifest = dataclasses.replace(manifest, checksum=model_checksum(tmp))
        torch.jit.save(module, tmp, _extra_files={EXTRA_FILE: manifest.to_json()})
        if model_checksum(tmp) != manifest.checksum:
            raise ManifestError(f"{path}: the model's contents changed between two saves; not written")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp made it 0600
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _temp_path(folder: str) -> str:
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.close(fd)
    return tmp


def read_manifest(path: str | os.PathLike) -> Manifest:
    """Read and validate the manifest of a model file (TorchScript or a ``.pt2`` package,
    told from its content) without keeping the model."""
    from .model_file import PT2, archive_format, open_archive

    reader = open_archive(path)
    if archive_format(reader) == PT2:
        # a package keeps it as the extra file extra/hybridge_manifest.json
        record = "extra/" + EXTRA_FILE
        text = reader.get_record(record).decode() if reader.has_record(record) else ""
    else:
        extra = {EXTRA_FILE: ""}
        try:
            torch.jit.load(os.fspath(path), map_location="cpu", _extra_files=extra)
        except RuntimeError as e:
            first = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
            raise ManifestError(f"{path}: not a TorchScript model file ({first})") from None
        text = extra[EXTRA_FILE]
    if not text:
        raise ManifestError(f"{path}: no {EXTRA_FILE} in the model file")
    return Manifest.from_json(text)


def validate_manifest(manifest: Manifest | dict | str) -> Manifest:
    """A :class:`Manifest` from a Manifest, its dict or its JSON text, validated (a
    :class:`ManifestError` names the problem). The engine applies the same rules at load."""
    if isinstance(manifest, Manifest):
        text = manifest.to_json()
    elif isinstance(manifest, dict):
        text = json.dumps(manifest)
    else:
        text = str(manifest)
    return Manifest.from_json(text)
