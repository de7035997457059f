"""AOTInductor packages (.pt2) in the engine: the same calls as TorchScript, results bit for
bit equal to ``torch._inductor.aoti_load_package`` in Python, and every bad package refused
with its status and a message naming what differs.

The packages are the fixtures of hybridge.testing.models written with ``format="pt2"``
(compiled once per model and torch when HYBRIDGE_PT2_CACHE is set, as ``make test`` does).
Packages "for another machine" are these packages with their metadata edited and the
manifest's checksum renewed, as a genuine package compiled elsewhere would look.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from expect import raises

from hybridge import core
from hybridge.export.pt2 import add_manifest, cpu_flags
from hybridge.manifest import TensorSpec, model_checksum, read_manifest
from hybridge.model_file import PT2, TORCHSCRIPT, load_model, model_format
from hybridge.testing import models

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:`torch.jit:DeprecationWarning")


@pytest.fixture(scope="session")
def pt2_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("pt2")


@pytest.fixture(scope="session")
def mlp_pt2(pt2_dir):
    """The ClimSim v1 MLP (4 x 512) as a package (the Fortran fixture's weights)."""
    path = pt2_dir / "mlp_v1.pt2"
    models.make_mlp_v1(path, format="pt2")
    return path


@pytest.fixture(scope="session")
def recurrent_pt2(pt2_dir):
    path = pt2_dir / "recurrent.pt2"
    models.make_recurrent(path, format="pt2")
    return path


@pytest.fixture(scope="session")
def no_manifest_pt2(pt2_dir):
    """(path, the declarations it needs)."""
    path = pt2_dir / "no_manifest.pt2"
    return path, models.make_no_manifest(path, format="pt2")


def assert_bitwise(got: dict, want: dict):
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].shape == want[name].shape, name
        assert got[name].tobytes() == want[name].tobytes(), (
            f"{name}: max |diff| {np.max(np.abs(got[name] - want[name]))}"
        )


def _metadata_records(reader) -> list[str]:
    return [n for n in reader.get_all_records() if n.endswith("_metadata.json")]


def repackage(src, dst, tmp_path, metadata=None, manifest=None):
    """A copy of package ``src`` at ``dst`` with metadata keys replaced (``metadata``) and
    the manifest replaced (``manifest``); the manifest's checksum is that of the new
    records, as in a package compiled that way."""
    from torch.export.pt2_archive import PT2ArchiveWriter

    reader = torch._C.PyTorchFileReader(str(src))
    bare = tmp_path / "bare.pt2"
    with PT2ArchiveWriter(str(bare)) as writer:
        for name in reader.get_all_records():
            if name in (".data/version", ".data/serialization_id", "extra/hybridge_manifest.json"):
                continue
            data = reader.get_record(name)
            if metadata and name in _metadata_records(reader):
                data = json.dumps({**json.loads(data), **metadata}).encode()
            writer.write_bytes(name, data)
    m = manifest or read_manifest(src)
    m.checksum = model_checksum(bare)
    add_manifest(bare, m.to_json(), dst)
    return dst


# ---- the Python side ----


def test_format_from_content_and_manifest(mlp_pt2, tmp_path):
    assert model_format(mlp_pt2) == PT2
    m = read_manifest(mlp_pt2)
    assert m.checksum == model_checksum(mlp_pt2)
    assert m.provenance["format"] == "pt2" and "eager model" in m.provenance["export_check"]
    renamed = tmp_path / "model.pt"
    shutil.copyfile(mlp_pt2, renamed)
    assert model_format(renamed) == PT2
    script = tmp_path / "script.pt2"
    models.make_float64(script)
    assert model_format(script) == TORCHSCRIPT


def test_package_metadata_names_torch_cpu_and_arguments(recurrent_pt2):
    meta = load_model(recurrent_pt2).get_metadata()
    assert meta["hybridge_torch_version"] == torch.__version__
    assert meta["hybridge_cpu_flags"] == cpu_flags()
    assert meta["hybridge_forward_arguments"] == "x,h"
    assert meta["AOTI_DEVICE_KEY"] == "cpu"


# ---- PYREF at the engine level ----


@pytest.mark.parametrize("ncol", [1, 7, 384])
def test_v1_mlp_matches_aoti_load_package(open_model, mlp_pt2, ncol):
    x = models.example_inputs(read_manifest(mlp_pt2), ncol, seed=0)
    want, _ = models.reference(mlp_pt2, x)
    assert_bitwise(open_model(mlp_pt2).run(x), want)


def test_recurrent_steps_restart_and_async(open_model, recurrent_pt2):
    ncol = 7
    manifest = read_manifest(recurrent_pt2)
    steps = [models.example_inputs(manifest, ncol, seed=s) for s in range(3)]
    model = open_model(recurrent_pt2)
    states, saved = None, None
    for step, x in enumerate(steps):
        want, states = models.reference(recurrent_pt2, x, states)
        assert_bitwise(model.run(x), want)
        assert model.get_state("h", ncol).tobytes() == states["h"].tobytes()
        if step == 0:
            saved = model.get_state("h", ncol)
    model.reset_state()
    model.set_state("h", saved)
    want, _ = models.reference(recurrent_pt2, steps[1], {"h": saved})
    assert_bitwise(model.run(steps[1]), want)


def test_run_start_finish_and_nonfinite(c_model, abi, mlp_pt2):
    _, lib = abi
    x = models.example_inputs(read_manifest(mlp_pt2), 16, seed=2)
    want, _ = models.reference(mlp_pt2, x)
    with c_model(mlp_pt2, options={"nonfinite": "reject"}) as model:
        y = np.empty_like(want["y"])
        model.bind("input", "x", x["x"])
        model.bind("output", "y", y)
        core.check(lib.hyb_model_run_start(model.handle))
        core.check(lib.hyb_model_run_finish(model.handle))
        assert y.tobytes() == want["y"].tobytes()
        bad = {"x": x["x"].copy()}
        bad["x"][3, 5] = np.nan
        with raises("HYB_ERR_NONFINITE", "input 'x'"):
            model.run(bad)


def test_no_manifest_with_declarations(open_model, no_manifest_pt2):
    path, declared = no_manifest_pt2
    inputs = models.example_inputs(declared, 5, seed=5)
    want, _ = models.reference(path, inputs, manifest=declared)
    assert_bitwise(open_model(path, declarations=declared).run(inputs), want)


def test_any_file_name(open_model, mlp_pt2, tmp_path):
    """The backend comes from the content: a package named .pt loads as a package."""
    renamed = tmp_path / "emulator.pt"
    shutil.copyfile(mlp_pt2, renamed)
    x = models.example_inputs(read_manifest(mlp_pt2), 3, seed=1)
    want, _ = models.reference(mlp_pt2, x)
    assert_bitwise(open_model(renamed).run(x), want)


# ---- bad packages ----


def test_truncated_package(open_model, mlp_pt2, tmp_path):
    path = tmp_path / "truncated.pt2"
    data = mlp_pt2.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with raises("HYB_ERR_LOAD", str(path), "TorchScript", ".pt2"):
        open_model(path)


def test_no_manifest_without_declarations(open_model, no_manifest_pt2):
    path, _ = no_manifest_pt2
    with raises("HYB_ERR_MANIFEST", str(path), "no hybridge_manifest.json", "declare"):
        open_model(path)


def test_package_for_cuda_on_the_cpu(open_model, mlp_pt2, tmp_path):
    path = repackage(mlp_pt2, tmp_path / "cuda.pt2", tmp_path, metadata={"AOTI_DEVICE_KEY": "cuda"})
    with raises("HYB_ERR_DEVICE", str(path), "compiled for cuda", "runs on cpu", "export it again"):
        open_model(path, options={"device": "cpu"})


def test_package_for_another_torch(open_model, mlp_pt2, tmp_path):
    path = repackage(
        mlp_pt2, tmp_path / "torch.pt2", tmp_path, metadata={"hybridge_torch_version": "2.11.0+cpu"}
    )
    release = torch.__version__.split("+")[0]
    with raises("HYB_ERR_LOAD", str(path), "compiled by torch 2.11.0+cpu", f"libtorch {release}"):
        open_model(path)


def test_package_for_another_cpu(open_model, mlp_pt2, tmp_path):
    """A flag the compiling CPU had and this one lacks (one this CPU really lacks)."""
    with open("/proc/cpuinfo") as f:
        have = set(next(line for line in f if line.startswith("flags")).split(":", 1)[1].split())
    lacking = next(
        f for f in ("amx_tile", "avx512_fp16", "avx_vnni_int8", "avx10_2", "fma4") if f not in have
    )
    flags = f"{cpu_flags()} {lacking}"
    path = repackage(mlp_pt2, tmp_path / "cpu.pt2", tmp_path, metadata={"hybridge_cpu_flags": flags})
    with raises("HYB_ERR_LOAD", str(path), "instruction sets this CPU lacks", lacking):
        open_model(path)


def test_package_for_another_machine(open_model, mlp_pt2, tmp_path):
    path = repackage(mlp_pt2, tmp_path / "arm.pt2", tmp_path, metadata={"AOTI_MACHINE": "aarch64"})
    with raises("HYB_ERR_LOAD", str(path), "compiled for aarch64 CPUs"):
        open_model(path)


def test_manifest_moved_onto_another_package(open_model, mlp_pt2, recurrent_pt2, tmp_path):
    path = tmp_path / "moved.pt2"
    add_manifest(recurrent_pt2, read_manifest(mlp_pt2).to_json(), path)
    with raises("HYB_ERR_MANIFEST", str(path), "checksum mismatch"):
        open_model(path)


def test_manifest_shapes_unlike_the_compiled_model(c_model, mlp_pt2, tmp_path):
    """The compiled model checks its inputs (AOTI_RUNTIME_CHECK_INPUTS, which the engine
    turns on): a manifest with another input width fails the dry run, no memory is misread."""
    m = read_manifest(mlp_pt2)
    m.inputs = [TensorSpec("x", [100])]
    path = repackage(mlp_pt2, tmp_path / "width.pt2", tmp_path, manifest=m)
    with raises("HYB_ERR_MANIFEST", str(path), "dry run", "expected: 124", "but got: 100"):
        c_model(path)


def test_manifest_names_unlike_the_forward(c_model, recurrent_pt2, tmp_path):
    m = read_manifest(recurrent_pt2)
    m.inputs = [TensorSpec("x2", [8])]
    path = repackage(recurrent_pt2, tmp_path / "names.pt2", tmp_path, manifest=m)
    with raises("HYB_ERR_MANIFEST", str(path), "forward(self, x, h)", "'x' but the manifest put input 'x2'"):
        c_model(path)
