"""Fixture models for the hybridge tests, made at test time, and their Python reference.

Each ``make_*`` function builds a small model from a seed and writes it in either format
(``format="torchscript"``, the default: scripted and saved with
:func:`hybridge.manifest.save_model`; ``format="pt2"``: an AOTInductor package through
:func:`hybridge.export.pt2.write_pt2`, compiled once per model and torch when
``HYBRIDGE_PT2_CACHE`` is set), with its manifest (except :func:`make_no_manifest`), and
returns the :class:`~hybridge.manifest.Manifest` that describes it (for the no-manifest
model: the declarations a host must make). The same seed gives the same weights in both
formats. :func:`reference` computes outputs exactly the way the engine must: the file
loaded in Python (``torch.jit.load`` or ``torch._inductor.aoti_load_package``,
:func:`hybridge.model_file.load_model`), host float64 cast to the model dtype, column axis
moved to ``batch_axis``, forward, results moved back and cast to float64.

Command line: ``python -m hybridge.testing.models OUTDIR [--format pt2]`` writes every
fixture (for pt2 those of :data:`PT2_FIXTURES`) with a deterministic input set and its
reference outputs, for the Fortran test programs:

``OUTDIR/<fixture>.pt`` (``.pt2`` for packages)
    the model file.
``OUTDIR/<fixture>.in.<tensor>.f64``
    input ``<tensor>``; ``OUTDIR/<fixture>.ref.<tensor>.f64``: reference output or
    reference recurrent state ``<tensor>``. Raw little-endian float64, no header,
    row-major with shape ``[nstep, ncol, d1..dk]`` (``[d1..dk]`` the per-column shape),
    i.e. exactly a Fortran array ``a(dk, .., d1, ncol, nstep)``. For a recurrent model
    step ``s`` uses the state left by step ``s-1`` (zeros before step 1) and the
    ``ref.<state>`` file holds the state after each step. Other models have ``nstep = 1``.
``OUTDIR/index.txt``
    one record per line, blank-separated, ``#`` starts a comment line::

        model  <fixture> <model file> <nstep> <ncol>
        tensor <fixture> <input|output|state> <name> <float32|float64> <batch_axis> <ndim> <d1> .. <dn>
        data   <fixture> <in|ref> <tensor> <data file> <ndim> <d1> .. <dn>

    ``tensor`` lines give the per-column shape (the declarations for ``hyb_model_declare``),
    ``data`` lines the full file shape ``[nstep, ncol, ...]``. Each line reads with one
    Fortran list-directed ``read`` (ndim comes before the dimensions).
``OUTDIR/index.json``
    the same records as JSON, for Python.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from hybridge.manifest import (
    UNBATCHED,
    Manifest,
    ManifestError,
    TensorSpec,
    layout_from_sizes,
    read_manifest,
    save_model,
)
from hybridge.model_file import load_model

NLEV = 60  # E3SM levels in ClimSim, index 0 = model top


@contextlib.contextmanager
def _torchscript():
    """TorchScript is the engine's model format: silence torch's deprecation notices for it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        yield


V1_INPUT_LAYOUT = [
    ("state_t", NLEV, "K"),
    ("state_q0001", NLEV, "kg/kg"),
    ("state_ps", 1, "Pa"),
    ("pbuf_SOLIN", 1, "W/m2"),
    ("pbuf_LHFLX", 1, "W/m2"),
    ("pbuf_SHFLX", 1, "W/m2"),
]
V1_OUTPUT_LAYOUT = [
    ("ptend_t", NLEV, "K/s"),
    ("ptend_q0001", NLEV, "kg/kg/s"),
    ("cam_out_NETSW", 1, "W/m2"),
    ("cam_out_FLWDS", 1, "W/m2"),
    ("cam_out_PRECSC", 1, "m/s"),
    ("cam_out_PRECC", 1, "m/s"),
    ("cam_out_SOLS", 1, "W/m2"),
    ("cam_out_SOLL", 1, "W/m2"),
    ("cam_out_SOLSD", 1, "W/m2"),
    ("cam_out_SOLLD", 1, "W/m2"),
]
V1_NINPUT = sum(n for _, n, _ in V1_INPUT_LAYOUT)  # 124
V1_NOUTPUT = sum(n for _, n, _ in V1_OUTPUT_LAYOUT)  # 128


def _climsim_vector(stat, layout) -> np.ndarray:
    """Concatenate ``stat(name, size)`` over the variables of ``layout``."""
    return np.concatenate([stat(name, size) for name, size, _ in layout])


def v1_normalization() -> dict[str, np.ndarray]:
    """ClimSim v1 statistics: input_mean, input_min, input_range (max - min) [124],
    output_scale [128], from the ClimSim files shipped with the package."""
    from hybridge.data.climsim import input_stat, output_scale

    mean = _climsim_vector(lambda n, k: input_stat("mean", n, k), V1_INPUT_LAYOUT)
    low = _climsim_vector(lambda n, k: input_stat("min", n, k), V1_INPUT_LAYOUT)
    high = _climsim_vector(lambda n, k: input_stat("max", n, k), V1_INPUT_LAYOUT)
    scale = _climsim_vector(output_scale, V1_OUTPUT_LAYOUT)
    return {"input_mean": mean, "input_min": low, "input_range": high - low, "output_scale": scale}


class _V1MLP(torch.nn.Module):
    """ClimSim v1 MLP in physical units: x' = (x - mean)/(max - min), y = y'/output_scale."""

    def __init__(self, hidden: Sequence[int], stats: dict[str, np.ndarray]):
        super().__init__()
        self.register_buffer("input_mean", torch.tensor(stats["input_mean"], dtype=torch.float32))
        self.register_buffer("input_range", torch.tensor(stats["input_range"], dtype=torch.float32))
        self.register_buffer("output_scale", torch.tensor(stats["output_scale"], dtype=torch.float32))
        layers: list[torch.nn.Module] = []
        width = V1_NINPUT
        for h in hidden:
            layers += [torch.nn.Linear(width, h), torch.nn.LeakyReLU(0.15)]
            width = h
        layers.append(torch.nn.Linear(width, V1_NOUTPUT))
        self.net = torch.nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.input_mean) / self.input_range) / self.output_scale


def make_mlp_v1(
    path, hidden: Sequence[int] = (512, 512, 512, 512), seed: int = 0, format: str = "torchscript"
) -> Manifest:
    """ClimSim v1 MLP: input ``x`` [124] -> output ``y`` [128], float32, physical units.

    ``hidden=(512,)*4`` is the benchmark size; tests that only need the shape pass
    something small such as ``(32,)``.
    """
    torch.manual_seed(seed)
    module = _V1MLP(hidden, v1_normalization()).eval()
    manifest = Manifest(
        name="climsim_v1_mlp",
        inputs=[TensorSpec("x", [V1_NINPUT], layout=layout_from_sizes(V1_INPUT_LAYOUT))],
        outputs=[TensorSpec("y", [V1_NOUTPUT], layout=layout_from_sizes(V1_OUTPUT_LAYOUT))],
        physics={"dataset": "ClimSim", "version": "v1", "nlev": NLEV},
        provenance={
            "made_by": "hybridge.testing.models.make_mlp_v1",
            "hidden": list(hidden),
            "seed": seed,
            "weights": "random",
        },
    )
    return write_model(module, manifest, path, format)


class _MultiIO(torch.nn.Module):
    """Profiles [ncol, 2, 60] + scalars [ncol, 4] -> tendencies [ncol, 2, 60], fluxes [ncol, 3]."""

    def __init__(self):
        super().__init__()
        self.register_buffer("profile_scale", torch.tensor([[1.0 / 300.0], [1.0 / 0.02]]))
        self.register_buffer("scalar_scale", torch.tensor([1e-5, 1e-3, 1e-2, 1e-2]))
        self.body = torch.nn.Sequential(torch.nn.Linear(2 * NLEV + 4, 64), torch.nn.Tanh())
        self.tendencies = torch.nn.Linear(64, 2 * NLEV)
        self.fluxes = torch.nn.Linear(64, 3)

    def forward(self, profiles: torch.Tensor, scalars: torch.Tensor):
        z = torch.cat([(profiles * self.profile_scale).flatten(1), scalars * self.scalar_scale], dim=1)
        z = self.body(z)
        return self.tendencies(z).view(profiles.shape) * 1e-4, self.fluxes(z) * 100.0


def make_multi_io(path, seed: int = 0, format: str = "torchscript") -> Manifest:
    """Two inputs (``profiles`` [2,60], ``scalars`` [4]) and two outputs, float32."""
    torch.manual_seed(seed)
    module = _MultiIO().eval()
    manifest = Manifest(
        name="multi_io",
        inputs=[
            TensorSpec("profiles", [2, NLEV]),
            TensorSpec(
                "scalars",
                [4],
                layout=layout_from_sizes(
                    [
                        ("state_ps", 1, "Pa"),
                        ("pbuf_SOLIN", 1, "W/m2"),
                        ("pbuf_LHFLX", 1, "W/m2"),
                        ("pbuf_SHFLX", 1, "W/m2"),
                    ]
                ),
            ),
        ],
        outputs=[
            TensorSpec("tendencies", [2, NLEV]),
            TensorSpec(
                "fluxes",
                [3],
                layout=layout_from_sizes(
                    [("cam_out_PRECC", 1, "m/s"), ("cam_out_FLWDS", 1, "W/m2"), ("cam_out_NETSW", 1, "W/m2")]
                ),
            ),
        ],
        provenance={"made_by": "hybridge.testing.models.make_multi_io", "seed": seed},
    )
    return write_model(module, manifest, path, format)


RECURRENT_NIN, RECURRENT_NOUT, RECURRENT_LAYERS, RECURRENT_HIDDEN = 8, 4, 2, 16


class _Recurrent(torch.nn.Module):
    """One GRU step per call: x [ncol, 8], h [layers, ncol, hidden] -> y [ncol, 4], h_new."""

    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(RECURRENT_NIN, RECURRENT_HIDDEN, num_layers=RECURRENT_LAYERS)
        self.head = torch.nn.Linear(RECURRENT_HIDDEN, RECURRENT_NOUT)

    def forward(self, x: torch.Tensor, h: torch.Tensor):
        out, h_new = self.gru(x.unsqueeze(0), h)
        return self.head(out[0]), h_new


def make_recurrent(path, seed: int = 0, format: str = "torchscript") -> Manifest:
    """GRU model with recurrent state ``h`` [layers, hidden], column axis 1 in the model."""
    torch.manual_seed(seed)
    module = _Recurrent().eval()
    manifest = Manifest(
        name="recurrent_gru",
        inputs=[TensorSpec("x", [RECURRENT_NIN])],
        outputs=[TensorSpec("y", [RECURRENT_NOUT])],
        states=[TensorSpec("h", [RECURRENT_LAYERS, RECURRENT_HIDDEN], batch_axis=1)],
        provenance={"made_by": "hybridge.testing.models.make_recurrent", "seed": seed},
    )
    return write_model(module, manifest, path, format)


class _Float64MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_float64(path, seed: int = 0, format: str = "torchscript") -> Manifest:
    """Small MLP computing in float64: ``x`` [16] -> ``y`` [8]."""
    torch.manual_seed(seed)
    module = _Float64MLP().double().eval()
    manifest = Manifest(
        name="float64_mlp",
        inputs=[TensorSpec("x", [16], dtype="float64")],
        outputs=[TensorSpec("y", [8], dtype="float64")],
        provenance={"made_by": "hybridge.testing.models.make_float64", "seed": seed},
    )
    return write_model(module, manifest, path, format)


def make_no_manifest(path, seed: int = 0, format: str = "torchscript") -> Manifest:
    """A float32 MLP ``x`` [16] -> ``y`` [8] without manifest: plain ``torch.jit.save``, or
    a package as ``aoti_compile_and_package`` writes it.

    Returns the manifest the model *would* have: the declarations a host must make.
    """
    torch.manual_seed(seed)
    module = _Float64MLP().eval()
    declared = Manifest(name="no_manifest", inputs=[TensorSpec("x", [16])], outputs=[TensorSpec("y", [8])])
    if format == "pt2":
        _write_bare_package(module, declared, path)
    else:
        with _torchscript():
            _atomic_jit_save(torch.jit.script(module), path)
    return declared


class _Raiser(torch.nn.Module):
    """x [4] -> y = 2x [4]; more than 3 columns in one batch make the model raise its own error."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > 3:
            raise RuntimeError("emulator: more than 3 columns in one batch; this model was traced for 3")
        return 2.0 * x


def make_raiser(path) -> Manifest:
    """A model that raises its own RuntimeError for batches of more than 3 columns."""
    return _save_fixture(
        _Raiser(), path, "raiser", inputs=[TensorSpec("x", [4])], outputs=[TensorSpec("y", [4])]
    )


class _FieldInput(torch.nn.Module):
    """Columns x [ncol, 8] and one field without a column axis [5] -> y [ncol, 3]."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(8 + 5, 3)

    def forward(self, x: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, field.expand(x.shape[0], 5)], dim=1))


def make_field_input(path, seed: int = 0) -> Manifest:
    """Input ``field`` [5] has no column axis (batch_axis -1): the same vector for every column."""
    torch.manual_seed(seed)
    return _save_fixture(
        _FieldInput(),
        path,
        "field_input",
        inputs=[TensorSpec("x", [8]), TensorSpec("field", [5], batch_axis=-1)],
        outputs=[TensorSpec("y", [3])],
    )


class _IntInput(torch.nn.Module):
    """x [ncol, 6] float32 and surface [ncol, 1] int64 (0..3, e.g. ocean/land/ice/snow) -> y [ncol, 4]."""

    def __init__(self):
        super().__init__()
        self.surface_effect = torch.nn.Embedding(4, 4)
        self.net = torch.nn.Linear(6, 4)

    def forward(self, x: torch.Tensor, surface: torch.Tensor) -> torch.Tensor:
        return self.net(x) + self.surface_effect(surface[:, 0])


def make_int_input(path, seed: int = 0) -> Manifest:
    """An integer input: ``surface`` int64 [1], an index into an embedding table."""
    torch.manual_seed(seed)
    return _save_fixture(
        _IntInput(),
        path,
        "int_input",
        inputs=[TensorSpec("x", [6]), TensorSpec("surface", [1], dtype="int64")],
        outputs=[TensorSpec("y", [4])],
    )


class _Stochastic(torch.nn.Module):
    """x [4] -> y = x + 0.1 * N(0, 1) draws: a stochastic parameterization."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.1 * torch.randn_like(x)


def make_stochastic(path) -> Manifest:
    """A model that draws random numbers in its forward (torch.randn_like)."""
    return _save_fixture(
        _Stochastic(), path, "stochastic", inputs=[TensorSpec("x", [4])], outputs=[TensorSpec("y", [4])]
    )


class _InPlace(torch.nn.Module):
    """x [4] -> y = 2x + 1, doubling its input in place on the way."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.mul_(2.0)
        return x + 1.0


def make_inplace(path) -> Manifest:
    """A model that writes into its input tensor (x.mul_): the host's array must survive it."""
    return _save_fixture(
        _InPlace(), path, "inplace", inputs=[TensorSpec("x", [4])], outputs=[TensorSpec("y", [4])]
    )


class _TwoInputGRU(torch.nn.Module):
    """profile [ncol, 8] and surface [ncol, 3] in, tendency [ncol, 8] out; GRU memory
    h [layers=2, ncol, hidden=16] (column axis 1) carried from step to step."""

    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(8 + 3, 16, num_layers=2)
        self.head = torch.nn.Linear(16, 8)

    def forward(self, profile: torch.Tensor, surface: torch.Tensor, h: torch.Tensor):
        out, h_new = self.gru(torch.cat([profile, surface], 1).unsqueeze(0), h)
        return self.head(out[0]), h_new


def make_two_input_gru(path, seed: int = 0) -> Manifest:
    """A hand-built two-input recurrent network exported through the public API
    (hybridge.export_model) with its declarations: the path a user's own network takes."""
    from hybridge.export import export_model

    torch.manual_seed(seed)
    with _torchscript():
        return export_model(
            _TwoInputGRU(),
            path,
            name="two_input_gru",
            inputs=[
                {"name": "profile", "layout": [("state_t", 8, "K")]},
                {
                    "name": "surface",
                    "layout": [("state_ps", 1, "Pa"), ("pbuf_LHFLX", 1, "W/m2"), ("pbuf_SHFLX", 1, "W/m2")],
                },
            ],
            outputs=[{"name": "tendency", "layout": [("ptend_t", 8, "K/s")]}],
            states=[{"name": "h", "shape": [2, 16], "batch_axis": 1}],
        )


def _save_fixture(module: torch.nn.Module, path, name: str, **tensors) -> Manifest:
    manifest = Manifest(name=name, provenance={"made_by": f"hybridge.testing.models ({name})"}, **tensors)
    return write_model(module.eval(), manifest, path, "torchscript")


def write_model(module: torch.nn.Module, manifest: Manifest, path, format: str = "torchscript") -> Manifest:
    """Eager ``module`` with ``manifest`` at ``path``: scripted TorchScript, or a ``.pt2``
    package (``format="pt2"``)."""
    if format == "pt2":
        from hybridge.export.checks import probe_inputs
        from hybridge.export.prepare import Prepared
        from hybridge.export.pt2 import write_pt2

        write_pt2(Prepared(module, manifest, probe_inputs(manifest, 8)), path)
        return manifest
    if format != "torchscript":
        raise ValueError(f"unknown model format {format!r} (torchscript or pt2)")
    with _torchscript():
        save_model(torch.jit.script(module), manifest, path)
    return manifest


def _write_bare_package(module: torch.nn.Module, declared: Manifest, path) -> None:
    """A package without hybridge's manifest, written atomically."""
    from hybridge.export.checks import probe_inputs
    from hybridge.export.prepare import Prepared
    from hybridge.export.pt2 import compile_package, exported_program

    path = Path(path)
    ep = exported_program(Prepared(module, declared, probe_inputs(declared, 8)))
    scratch = Path(tempfile.mkdtemp(dir=path.parent, prefix=".hybridge-export-"))
    try:
        compile_package(ep, scratch / f"{path.stem}.pt2")
        os.replace(scratch / f"{path.stem}.pt2", path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _atomic_jit_save(module, path) -> None:
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    os.close(fd)
    try:
        with _torchscript():
            torch.jit.save(module, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_TORCH_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "int32": torch.int32,
    "int64": torch.int64,
}


def _to_model(host: np.ndarray, spec: TensorSpec) -> torch.Tensor:
    """Host layout [ncol, ...] (float64, or an integer array for an integer tensor) -> model
    tensor (dtype cast, column axis moved; unbatched tensors as they are)."""
    host = np.ascontiguousarray(host)
    if host.dtype.kind == "f":
        host = host.astype(np.float64, copy=False)
    t = torch.from_numpy(host).to(_TORCH_DTYPES[spec.dtype])
    if spec.batch_axis == UNBATCHED:
        return t.contiguous()
    return t.movedim(0, spec.batch_axis).contiguous()


def _to_host(t: torch.Tensor, spec: TensorSpec) -> np.ndarray:
    """Model tensor -> host layout: float64 for floats, the tensor's own integer type otherwise."""
    if spec.batch_axis != UNBATCHED:
        t = t.movedim(spec.batch_axis, 0)
    if t.is_floating_point():
        t = t.to(torch.float64)
    return t.contiguous().numpy()


def reference(
    path,
    inputs: dict[str, np.ndarray],
    states: dict[str, np.ndarray] | None = None,
    manifest: Manifest | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The Python reference for one run: ``(outputs, new_states)``, float64, host layout.

    ``inputs`` (and ``states``) are float64 arrays in host layout ``[ncol, per-column...]``.
    Missing states start at zero, as in the engine. ``manifest`` is only needed for a
    model without one (pass what :func:`make_no_manifest` returned).
    """
    path = os.fspath(path)
    m = manifest if manifest is not None else read_manifest(path)
    module = load_model(path)
    batched = [s for s in m.inputs if s.batch_axis != UNBATCHED]
    ncol = np.shape(inputs[batched[0].name])[0] if batched else 1
    states = dict(states or {})
    for s in m.states:
        states.setdefault(s.name, np.zeros([ncol, *s.shape]))
    args = [_to_model(inputs[s.name], s) for s in m.inputs]
    args += [_to_model(states[s.name], s) for s in m.states]
    with torch.inference_mode():
        result = module(*args)
    if isinstance(result, torch.Tensor):
        result = (result,)
    specs = m.outputs + m.states
    if len(result) != len(specs):
        raise ManifestError(
            f"{path}: model returned {len(result)} tensors, manifest "
            f"lists {len(m.outputs)} outputs + {len(m.states)} states"
        )
    out = {s.name: _to_host(t, s) for s, t in zip(m.outputs, result, strict=False)}
    new_states = {s.name: _to_host(t, s) for s, t in zip(m.states, result[len(m.outputs) :], strict=True)}
    return out, new_states


def example_inputs(manifest: Manifest, ncol: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic float64 inputs in host layout; v1 inputs near ClimSim's mean state;
    integer inputs are whole numbers 0..3 (float64 holding them exactly); an input without a
    column axis has its own shape."""
    rng = np.random.default_rng(seed)
    out = {}
    for s in manifest.inputs:
        shape = list(s.shape) if s.batch_axis == UNBATCHED else [ncol, *s.shape]
        if s.dtype.startswith("int"):
            out[s.name] = rng.integers(0, 4, shape).astype(np.float64)
            continue
        u = rng.random(shape)
        if s.shape == [V1_NINPUT] and [v.name for v in s.layout] == [v[0] for v in V1_INPUT_LAYOUT]:
            # Near the mean (within 10% of the range): the extremes of the ClimSim
            # statistics (e.g. 1300 K at the model top) are not typical columns.
            stats = v1_normalization()
            x = stats["input_mean"] + 0.2 * (u - 0.5) * stats["input_range"]
            out[s.name] = np.clip(x, stats["input_min"], stats["input_min"] + stats["input_range"])
        else:
            out[s.name] = 2.0 * u - 1.0
    return out


# name -> (maker, ncol, nstep) for the command line.
FIXTURES: dict[str, tuple[Callable[..., Manifest], int, int]] = {
    "mlp_v1": (make_mlp_v1, 384, 1),
    "multi_io": (make_multi_io, 7, 1),
    "recurrent": (make_recurrent, 7, 3),
    "float64": (make_float64, 7, 1),
    "no_manifest": (make_no_manifest, 7, 1),
    "field_input": (make_field_input, 7, 1),
    "int_input": (make_int_input, 7, 1),
    "raiser": (make_raiser, 3, 1),
    "two_input_gru": (make_two_input_gru, 6, 3),
}
#: the fixtures a ``.pt2`` package is written for (their makers take ``format``)
PT2_FIXTURES = ("mlp_v1", "multi_io", "recurrent", "float64", "no_manifest")
#: model file suffix by format
SUFFIX = {"torchscript": ".pt", "pt2": ".pt2"}


def _write_f64(path: Path, a: np.ndarray) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    np.ascontiguousarray(a, dtype="<f8").tofile(tmp)
    os.replace(tmp, path)


def write_fixture(outdir: Path, name: str, format: str = "torchscript") -> dict:
    """Write one fixture (model, inputs, reference) in ``format``; return its index record."""
    maker, ncol, nstep = FIXTURES[name]
    model_file = f"{name}{SUFFIX[format]}"
    if format == "torchscript":
        manifest = maker(outdir / model_file)
    elif name in PT2_FIXTURES:
        manifest = maker(outdir / model_file, format=format)
    else:
        raise ValueError(f"fixture {name!r} is not written as {format}; those that are: {PT2_FIXTURES}")
    steps_in, steps_out, steps_state = [], [], []
    states = None
    for step in range(nstep):
        x = example_inputs(manifest, ncol, seed=step)
        y, states = reference(outdir / model_file, x, states, manifest=manifest)
        steps_in.append(x)
        steps_out.append(y)
        steps_state.append(states)
    record = {"name": name, "model": model_file, "nstep": nstep, "ncol": ncol, "tensors": [], "data": []}
    for role, specs in (("input", manifest.inputs), ("output", manifest.outputs), ("state", manifest.states)):
        for s in specs:
            record["tensors"].append(
                {
                    "role": role,
                    "name": s.name,
                    "dtype": s.dtype,
                    "batch_axis": s.batch_axis,
                    "shape": list(s.shape),
                }
            )
    for kind, steps in (("in", steps_in), ("ref", steps_out), ("ref", steps_state)):
        for tensor in steps[0]:
            a = np.stack([step[tensor] for step in steps])
            data_file = f"{name}.{kind}.{tensor}.f64"
            _write_f64(outdir / data_file, a)
            record["data"].append({"kind": kind, "tensor": tensor, "file": data_file, "shape": list(a.shape)})
    return record


def _index_text(records: list[dict]) -> str:
    lines = [
        "# hybridge test fixtures; format: see hybridge.testing.models",
        "# model  <fixture> <model file> <nstep> <ncol>",
        "# tensor <fixture> <role> <name> <dtype> <batch_axis> <ndim> <dims..>",
        "# data   <fixture> <in|ref> <tensor> <file> <ndim> <dims..>",
    ]
    for r in records:
        lines.append(f"model {r['name']} {r['model']} {r['nstep']} {r['ncol']}")
        for t in r["tensors"]:
            dims = " ".join(str(d) for d in t["shape"])
            lines.append(
                f"tensor {r['name']} {t['role']} {t['name']} {t['dtype']} "
                f"{t['batch_axis']} {len(t['shape'])} {dims}"
            )
        for d in r["data"]:
            dims = " ".join(str(n) for n in d["shape"])
            lines.append(f"data {r['name']} {d['kind']} {d['tensor']} {d['file']} {len(d['shape'])} {dims}")
    return "\n".join(lines) + "\n"


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_all(outdir, names: Sequence[str] | None = None, format: str = "torchscript") -> list[dict]:
    """Write the fixtures (all by default; for pt2 those of :data:`PT2_FIXTURES`) in
    ``format`` and ``index.txt`` / ``index.json`` into outdir."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    default = PT2_FIXTURES if format == "pt2" else FIXTURES
    records = [write_fixture(outdir, n, format) for n in (names or default)]
    _write_text(outdir / "index.txt", _index_text(records))
    _write_text(outdir / "index.json", json.dumps({"fixtures": records}, indent=1))
    return records


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m hybridge.testing.models",
        description="Write hybridge fixture models, inputs and float64 reference outputs.",
    )
    p.add_argument("outdir", help="folder to write into (created if missing)")
    p.add_argument("--only", nargs="+", choices=sorted(FIXTURES), help="fixtures to write")
    p.add_argument(
        "--format",
        choices=sorted(SUFFIX),
        default="torchscript",
        help="model file format (pt2: AOTInductor packages of the fixtures in PT2_FIXTURES)",
    )
    args = p.parse_args(argv)
    if args.format == "pt2" and args.only and set(args.only) - set(PT2_FIXTURES):
        p.error(f"--format pt2 writes only {', '.join(PT2_FIXTURES)}")
    for r in write_all(args.outdir, args.only, args.format):
        print(f"{r['name']}: {r['model']} ncol={r['ncol']} nstep={r['nstep']}")


if __name__ == "__main__":
    main()
