"""Matrix rows that drive the emulator through one layer on every MPI rank of the harness.

Every rank builds the same global inputs (deterministic), takes its block of columns (the
host model's decomposition: rank r owns columns r*ncol//n .. (r+1)*ncol//n - 1), runs them
through the layer under test and sends inputs and outputs to rank 0, which compares. The
layers: ``fortran`` (the Fortran API through f90wrap), ``c`` (the C ABI through cffi),
``engine`` (the C++ engine through pybind11).

Mutations make a rank feed the layer something other than what it sent to rank 0, as a
coupling bug would; the comparison must catch them (tests/harness/test_mutations.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hybridge.manifest import Manifest, read_manifest
from hybridge.testing import models as fixtures
from hybridge.verify.compare import Difference, compare
from hybridge.verify.matrix import Row

MUTATIONS = ("perturb_input", "swap_columns", "drop_state")


@dataclass
class Mutation:
    """``kind`` in MUTATIONS, applied on ``rank`` to local column ``column`` (perturb_input:
    that column's input ``variable`` moves up by one ulp of the model precision;
    swap_columns: it swaps with the next column; drop_state: a restart forgets the
    recurrent state)."""

    kind: str
    rank: int = 1
    column: int = 2
    variable: str = "state_t[30]"


@dataclass
class ApiSettings:
    ncol: int = 96
    nstep: int = 3  # steps of the recurrent model
    chunk: int = 16  # reproducible batching for PEM, PET, ERS
    threads: tuple[int, int] = (1, 2)
    mutation: Mutation | None = None


def block_counts(ncol: int, nranks: int) -> list[int]:
    """Columns per rank, as hybridge-host decomposes its grid."""
    return [((r + 1) * ncol) // nranks - (r * ncol) // nranks for r in range(nranks)]


def quiet_wait(comm) -> None:
    """Barrier that sleeps instead of spinning, so waiting ranks leave the cores to the
    ranks (or host runs) that compute."""
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(0.02)


# ---- layers ----


class _EngineModel:
    """The pybind11 engine with the run/get_state/set_state interface of the other layers."""

    def __init__(self, path, options):
        from hybridge.core import engine_module

        self.engine = engine_module().Engine()
        for k, v in options.items():
            self.engine.set_option(k, str(v))
        self.engine.load(str(path))

    def run(self, inputs):
        return self.engine.run({k: np.ascontiguousarray(v) for k, v in inputs.items()})

    def get_state(self, name, ncol):
        return self.engine.get_state(name, ncol)

    def set_state(self, name, value):
        self.engine.set_state(name, np.ascontiguousarray(value))

    def free(self):
        self.engine = None


def open_model(layer: str, path, options: dict, comm=None):
    """A loaded model of ``layer``; ``comm`` (mpi4py) goes to the C ABI for batching=node."""
    if layer == "fortran":
        from hybridge.verify.fortran import FortranModel

        return FortranModel(path, options)
    if layer == "host-driver":
        from hybridge.verify.fortran import HostDriverModel

        return HostDriverModel(path, options)
    if layer == "c":
        from hybridge.core import Model

        return Model(path, options=options, comm=None if comm is None else comm.py2f())
    if layer == "engine":
        return _EngineModel(path, options)
    raise ValueError(f"unknown layer '{layer}' (fortran, host-driver, c or engine)")


# ---- one decomposed run ----


def _mutate(inputs: dict, manifest: Manifest, m: Mutation, ncol_local: int) -> dict:
    """A copy of this rank's inputs with the mutation applied (the caller keeps the
    original, which is what rank 0 receives)."""
    out = {k: v.copy() for k, v in inputs.items()}
    col = m.column
    last = ncol_local - (2 if m.kind == "swap_columns" else 1)
    if not 0 <= col <= last:
        raise ValueError(
            f"{m.kind}: column {col} is not available on rank {m.rank}, which has {ncol_local} columns"
        )
    if m.kind == "perturb_input":
        spec = manifest.inputs[0]
        index = 0
        for v in spec.layout:
            if m.variable.startswith(v.name + "[") or m.variable == v.name:
                level = int(m.variable[len(v.name) + 1 : -1]) if "[" in m.variable else 0
                index = v.offset + level
        x = out[spec.name].reshape(ncol_local, -1)
        as_model = np.float32 if spec.dtype == "float32" else np.float64
        x[col, index] = float(np.nextafter(as_model(x[col, index]), as_model(np.inf)))
    elif m.kind == "swap_columns":
        for x in out.values():
            x[[col, col + 1]] = x[[col + 1, col]]
    return out


def decomposed_run(
    comm,
    layer: str,
    path,
    options: dict,
    steps: list[dict],
    nranks: int,
    restart_after: int | None = None,
    mutation: Mutation | None = None,
    pass_comm: bool = False,
):
    """Run ``steps`` (global inputs per step) on the first ``nranks`` ranks of comm.

    With ``restart_after = s`` the model is freed after step s and a new one continues
    from the recurrent state read out of the old one (a restart). Returns, on rank 0,
    (outputs [nstep, ncol, ...], final states [ncol, ...], counts, the inputs each rank
    sent (per step, gathered)); None elsewhere.
    """
    manifest = read_manifest(path)
    counts = block_counts(steps[0][manifest.inputs[0].name].shape[0], nranks)
    rank = comm.rank
    sent, outputs, states, error = [], [], {}, ""
    if rank < nranks:
        try:
            sent, outputs, states = _run_block(
                layer,
                path,
                options,
                steps,
                manifest,
                counts,
                rank,
                restart_after,
                mutation,
                comm if pass_comm else None,
            )
        except Exception as e:  # reported by rank 0 after the gather, so no rank hangs
            error = f"rank {rank}: {type(e).__name__}: {e}"
    quiet_wait(comm)
    gathered = comm.gather((outputs, states, error, sent) if rank < nranks else None, root=0)
    if rank != 0:
        return None
    errors = [p[2] for p in gathered[:nranks] if p[2]]
    if errors:
        raise RuntimeError(errors[0])
    parts = gathered[:nranks]
    out = {
        s.name: np.stack([np.concatenate([p[0][step][s.name] for p in parts]) for step in range(len(steps))])
        for s in manifest.outputs
    }
    st = {s.name: np.concatenate([p[1][s.name] for p in parts]) for s in manifest.states}
    inputs = [
        {s.name: np.concatenate([p[3][step][s.name] for p in parts]) for s in manifest.inputs}
        for step in range(len(steps))
    ]
    return out, st, counts, inputs


def _run_block(layer, path, options, steps, manifest, counts, rank, restart_after, mutation, comm):
    start, n = sum(counts[:rank]), counts[rank]
    outputs, sent = [], []
    model = open_model(layer, path, options, comm)
    for step, global_inputs in enumerate(steps):
        local = {k: v[start : start + n] for k, v in global_inputs.items()}
        sent.append(local)
        if mutation is not None and mutation.rank == rank and mutation.kind != "drop_state":
            local = _mutate(local, manifest, mutation, n)
        outputs.append(model.run(local))
        if restart_after is not None and step == restart_after:
            saved = {s.name: model.get_state(s.name, n) for s in manifest.states}
            model.free()
            model = open_model(layer, path, options, comm)
            if not (mutation is not None and mutation.kind == "drop_state"):
                for name, value in saved.items():
                    model.set_state(name, value)
    states = {s.name: model.get_state(s.name, n) for s in manifest.states}
    model.free()
    return sent, outputs, states


@contextlib.contextmanager
def _one_thread():
    # the candidates run with threads=1; a compiled package's kernels split work by thread
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def python_reference(path, steps: list[dict], counts: list[int]):
    """The model file loaded in Python (torch.jit.load, or aoti_load_package for a .pt2) on
    the gathered inputs, block by block as the ranks batched them (a column's bits may
    depend on its batch), recurrent state carried across steps, on one intra-op thread as
    the candidates."""
    with _one_thread():
        return _python_reference(path, steps, counts)


def _python_reference(path, steps: list[dict], counts: list[int]):
    manifest = read_manifest(path)
    outputs = {s.name: [] for s in manifest.outputs}
    blocks = []
    start = 0
    for n in counts:
        blocks.append((start, n))
        start += n
    states = [None] * len(blocks)
    for global_inputs in steps:
        per_block = []
        for b, (start, n) in enumerate(blocks):
            y, states[b] = fixtures.reference(
                path, {k: v[start : start + n] for k, v in global_inputs.items()}, states[b]
            )
            per_block.append(y)
        for s in manifest.outputs:
            outputs[s.name].append(np.concatenate([y[s.name] for y in per_block]))
    final = {s.name: np.concatenate([st[s.name] for st in states]) for s in manifest.states}
    return {k: np.stack(v) for k, v in outputs.items()}, final


# ---- comparisons ----


def _differences(manifest: Manifest, ref, cand, counts, candidate: str = "") -> list[Difference]:
    """Outputs (all steps) and final recurrent states; ``candidate`` labels the run
    compared (e.g. "3 ranks") in the report."""
    label = f"{candidate}: " if candidate else ""
    out = []
    for s in manifest.outputs:
        layout = [(v.name, v.offset, v.size) for v in s.layout] if len(s.shape) == 1 else None
        out.append(
            compare(
                f"{label}output {s.name}",
                ref[0][s.name],
                cand[0][s.name],
                precision=s.dtype,
                counts=counts,
                layout=layout,
                column_axis=1,
                step_axis=0,
                name=s.name,
            )
        )
    for s in manifest.states:
        out.append(
            compare(
                f"{label}state {s.name}",
                ref[1][s.name],
                cand[1][s.name],
                precision=s.dtype,
                counts=counts,
                name=s.name,
            )
        )
    return out


def _inputs(manifest: Manifest, ncol: int, nstep: int) -> list[dict]:
    return [fixtures.example_inputs(manifest, ncol, seed=step) for step in range(nstep)]


def _timed(row: Row, comm, body: Callable[[], list[Difference] | None]) -> Row:
    """Run a row's body on every rank; rank 0 keeps the differences. An exception on any
    rank becomes the row's error (named with its rank) instead of hanging the others."""
    t0 = time.perf_counter()
    error = ""
    result = None
    try:
        result = body()
    except Exception as e:  # a failing layer is a result of the harness, not a crash
        error = f"rank {comm.rank}: {type(e).__name__}: {e}"
    errors = [e for e in comm.allgather(error) if e]
    row.seconds = time.perf_counter() - t0
    if errors:
        row.error = errors[0]
    elif comm.rank == 0:
        row.differences = result or []
    return row


def fixture_models(workdir: Path, comm, format: str = "torchscript") -> dict[str, Path]:
    """The v1 MLP (ClimSim v1 shapes, small hidden layers), multi-io and recurrent GRU
    fixtures, and the host rows' tame recurrent v1 model, written by rank 0 into workdir
    as ``format`` (torchscript, or pt2: AOTInductor packages of the same weights)."""
    from hybridge.verify.host_model import make_host_model

    suffix = fixtures.SUFFIX[format]
    paths = {name: workdir / f"{name}{suffix}" for name in ("mlp_v1", "multi_io", "recurrent", "host_model")}
    error = ""
    if comm.rank == 0:
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            fixtures.make_mlp_v1(paths["mlp_v1"], hidden=(256, 256), format=format)
            fixtures.make_multi_io(paths["multi_io"], format=format)
            fixtures.make_recurrent(paths["recurrent"], format=format)
            make_host_model(paths["host_model"], format=format)
        except Exception as e:  # an export that fails: every rank stops with the reason
            error = f"writing the {format} models into {workdir} failed: {type(e).__name__}: {e}"
    error = comm.bcast(error, root=0)
    if error:
        raise RuntimeError(error)
    return paths


def pyref_rows(
    comm, models: dict[str, Path], s: ApiSettings, layers=("fortran", "host-driver", "c", "engine")
):
    """PYREF: each layer's outputs on every rank == torch.jit.load in Python, whole rank
    batches (chunk=0), one thread; recurrent models over s.nstep steps. The API layers run
    the three fixtures; the host-driver layer (physics_ml, one model per process) runs the
    host model's tame recurrent v1 emulator."""
    plan = [
        (name, layer)
        for name in ("mlp_v1", "multi_io", "recurrent")
        for layer in layers
        if layer != "host-driver"
    ]
    if "host-driver" in layers:
        plan.append(("host_model", "host-driver"))
    rows = []
    for name, layer in plan:
        path = models[name]
        manifest = read_manifest(path)
        steps = _inputs(manifest, s.ncol, s.nstep if manifest.states else 1)

        def body(path=path, layer=layer, steps=steps, manifest=manifest):
            cand = decomposed_run(
                comm, layer, path, {"threads": 1, "chunk": 0}, steps, comm.size, mutation=s.mutation
            )
            if cand is None:
                return None
            ref = python_reference(path, cand[3], cand[2])
            return _differences(manifest, ref, cand[:2], cand[2])

        rows.append(_timed(Row(f"PYREF {name} {layer}", str(comm.size), "1"), comm, body))
    return rows


def pem_rows(comm, models: dict[str, Path], s: ApiSettings, layer="fortran"):
    """PEM: 1..size ranks identical with chunk=s.chunk (must pass) and with chunk=0
    (measured). Recurrent model over s.nstep steps and the v1 MLP."""
    rows = []
    for name in ("mlp_v1", "recurrent"):
        path = models[name]
        manifest = read_manifest(path)
        steps = _inputs(manifest, s.ncol, s.nstep if manifest.states else 1)
        for chunk in (s.chunk, 0):

            def body(path=path, chunk=chunk, steps=steps, manifest=manifest):
                runs = [
                    decomposed_run(
                        comm, layer, path, {"threads": 1, "chunk": chunk}, steps, k, mutation=s.mutation
                    )
                    for k in range(1, comm.size + 1)
                ]
                if comm.rank != 0:
                    return None
                return [
                    d
                    for k, cand in enumerate(runs[1:], start=2)
                    for d in _differences(manifest, runs[0], cand[:2], cand[2], f"{k} ranks")
                ]

            label = f"PEM {name} chunk={chunk}" if chunk else f"PEM {name} no chunk"
            rows.append(
                _timed(
                    Row(
                        label, ",".join(str(k) for k in range(1, comm.size + 1)), "1", expect_equal=chunk > 0
                    ),
                    comm,
                    body,
                )
            )
    return rows


def pet_rows(comm, models: dict[str, Path], s: ApiSettings, layer="fortran"):
    """PET: threads s.threads[0] vs s.threads[1] on every rank, with chunking (must pass)
    and without (measured)."""
    rows = []
    path = models["mlp_v1"]
    manifest = read_manifest(path)
    steps = _inputs(manifest, s.ncol, 1)
    for chunk in (s.chunk, 0):

        def body(chunk=chunk):
            runs = [
                decomposed_run(
                    comm, layer, path, {"threads": t, "chunk": chunk}, steps, comm.size, mutation=s.mutation
                )
                for t in s.threads
            ]
            if comm.rank != 0:
                return None
            return _differences(manifest, runs[0], runs[1][:2], runs[1][2], f"{s.threads[1]} threads")

        label = f"PET mlp_v1 chunk={chunk}" if chunk else "PET mlp_v1 no chunk"
        rows.append(
            _timed(
                Row(label, str(comm.size), f"{s.threads[0]} vs {s.threads[1]}", expect_equal=chunk > 0),
                comm,
                body,
            )
        )
    return rows


def ers_rows(comm, models: dict[str, Path], s: ApiSettings, layer="fortran"):
    """ERS through the API: the recurrent model straight vs freed after half the steps and
    reloaded with the state read out of it (what a restart file carries)."""
    path = models["recurrent"]
    manifest = read_manifest(path)
    nstep = max(2, s.nstep)
    steps = _inputs(manifest, s.ncol, nstep)

    def body():
        options = {"threads": 1, "chunk": s.chunk}
        straight = decomposed_run(comm, layer, path, options, steps, comm.size)
        split = decomposed_run(
            comm, layer, path, options, steps, comm.size, restart_after=nstep // 2 - 1, mutation=s.mutation
        )
        if comm.rank != 0:
            return None
        return _differences(manifest, straight, split[:2], split[2])

    return [_timed(Row(f"ERS recurrent {layer}", str(comm.size), "1"), comm, body)]


def node_rows(comm, models: dict[str, Path], s: ApiSettings):
    """NODE: batching=node (the node's columns gathered to one rank) equals batching=rank
    (C ABI, chunked)."""
    row = Row("NODE mlp_v1 c", str(comm.size), "1")
    path = models["mlp_v1"]
    manifest = read_manifest(path)
    steps = _inputs(manifest, s.ncol, 1)

    def body():
        runs = [
            decomposed_run(
                comm,
                "c",
                path,
                {"threads": 1, "chunk": s.chunk, "batching": b},
                steps,
                comm.size,
                mutation=s.mutation,
                pass_comm=True,
            )
            for b in ("rank", "node")
        ]
        if comm.rank != 0:
            return None
        return _differences(manifest, runs[0], runs[1][:2], runs[1][2])

    return [_timed(row, comm, body)]


def format_rows(comm, torchscript: dict[str, Path], pt2: dict[str, Path], s: ApiSettings):
    """FORMATS: the TorchScript file and the .pt2 package of the same weights, each through
    its Python loader on the same inputs (whole batch, one thread; recurrent models over
    s.nstep steps). Compiled code fuses and reorders floating-point operations, so the two
    may differ in the last bits: measured (max |diff| and ulps), never failed."""
    rows = []
    for name in ("mlp_v1", "multi_io", "recurrent"):
        manifest = read_manifest(torchscript[name])
        steps = _inputs(manifest, s.ncol, s.nstep if manifest.states else 1)

        def body(name=name, steps=steps, manifest=manifest):
            if comm.rank != 0:
                return None
            counts = [s.ncol]
            a = python_reference(torchscript[name], steps, counts)
            b = python_reference(pt2[name], steps, counts)
            return _differences(manifest, a, b, counts, "pt2")

        rows.append(
            _timed(Row(f"FORMATS {name} torchscript vs pt2", "1", "1", expect_equal=False), comm, body)
        )
    return rows
