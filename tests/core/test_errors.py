"""Every bad input gets its status and a message naming the problem."""

import sys
import threading

import numpy as np
import pytest
import torch
from expect import raises

from hybridge import core
from hybridge.core import STATUS, HybridgeError
from hybridge.manifest import EXTRA_FILE, Manifest, TensorSpec, save_model
from hybridge.testing import models

# These tests write damaged TorchScript files on purpose (torch.jit.save, torch.jit.load).
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


# ---- files ----


def test_missing_file(open_model, tmp_path):
    path = tmp_path / "nowhere" / "model.pt"
    with raises("HYB_ERR_FILE", "not found", str(path)):
        open_model(path)


def test_not_torchscript(open_model, tmp_path):
    path = tmp_path / "namelist.pt"
    path.write_text("&physics_nl scheme='ml' /\n")
    with raises("HYB_ERR_LOAD", str(path), "TorchScript"):
        open_model(path)


def test_truncated_file(open_model, mlp_small, tmp_path):
    path = tmp_path / "truncated.pt"
    data = mlp_small.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with raises("HYB_ERR_LOAD", str(path)):
        open_model(path)


# ---- manifests ----


def _declared(shape_x=(124,), dtype_x="float32", name_x="x", shape_y=(128,)):
    return Manifest(
        inputs=[TensorSpec(name_x, list(shape_x), dtype_x)], outputs=[TensorSpec("y", list(shape_y))]
    )


@pytest.mark.parametrize(
    "declared, words",
    [
        (_declared(shape_x=(123,)), ["input 'x'", "[123]", "[124]"]),
        (_declared(dtype_x="float64"), ["input 'x'", "float64", "float32"]),
        (_declared(name_x="state"), ["input 'state'", "no such input", "input 'x' is in the model"]),
        (_declared(shape_y=(2, 64)), ["output 'y'", "[2, 64]", "[128]"]),
    ],
)
def test_manifest_mismatch(open_model, mlp_small, declared, words):
    with raises("HYB_ERR_MANIFEST", str(mlp_small), *words):
        open_model(mlp_small, declarations=declared)


def test_recurrent_batch_axis_mismatch(c_model, recurrent):
    m = Manifest(
        inputs=[TensorSpec("x", [8])],
        outputs=[TensorSpec("y", [4])],
        states=[TensorSpec("h", [2, 16], batch_axis=0)],
    )
    with raises("HYB_ERR_MANIFEST", "state 'h'", "batch_axis declared 0", "manifest has 1"):
        c_model(recurrent, declarations=m)


def test_tampered_weights(open_model, mlp_small, tmp_path):
    """The manifest of one model on changed weights: the checksum no longer matches."""
    extra = {EXTRA_FILE: ""}
    module = torch.jit.load(str(mlp_small), _extra_files=extra)
    with torch.no_grad():
        dict(module.named_parameters())["net.0.bias"][3] += 1e-3
    path = tmp_path / "tampered.pt"
    torch.jit.save(module, str(path), _extra_files=extra)
    with raises("HYB_ERR_MANIFEST", str(path), "checksum mismatch", "sha256:"):
        open_model(path)


def _with_manifest_text(src, dst, text):
    module = torch.jit.load(str(src))
    torch.jit.save(module, str(dst), _extra_files={EXTRA_FILE: text})


def test_manifest_not_json(c_model, mlp_small, tmp_path):
    path = tmp_path / "bad_json.pt"
    _with_manifest_text(mlp_small, path, "{inputs: [")
    with raises("HYB_ERR_MANIFEST", str(path), "not valid JSON"):
        c_model(path)


def test_manifest_wrong_schema_and_fields(c_model, mlp_small, tmp_path):
    text = models.read_manifest(mlp_small).to_json()
    path = tmp_path / "schema.pt"
    _with_manifest_text(mlp_small, path, text.replace("hybridge-manifest/1", "hybridge-manifest/9"))
    with raises("HYB_ERR_MANIFEST", "hybridge-manifest/9"):
        c_model(path)
    _with_manifest_text(mlp_small, path, text.replace('"batch_axis"', '"column_axis"', 1))
    with raises("HYB_ERR_MANIFEST", "column_axis"):
        c_model(path)


def test_manifest_lies_about_shape(c_model, mlp_small, tmp_path):
    """A manifest whose output shape is not what the model returns fails at load (dry run)."""
    m = models.read_manifest(mlp_small)  # same weights, so its checksum still holds
    m.outputs = [TensorSpec("y", [127])]
    path = tmp_path / "lies.pt"
    save_model(torch.jit.load(str(mlp_small)), m, path)
    with raises("HYB_ERR_MANIFEST", str(path), "dry run", "output 'y'", "[2, 128]", "[2, 127]"):
        c_model(path)


def test_no_manifest_without_declarations(open_model, no_manifest):
    path, _ = no_manifest
    with raises("HYB_ERR_MANIFEST", str(path), "no hybridge_manifest.json", "declare"):
        open_model(path)


def test_no_manifest_wrong_declaration(open_model, no_manifest):
    path, _ = no_manifest
    wrong = Manifest(inputs=[TensorSpec("x", [16])], outputs=[TensorSpec("y", [9])])
    with raises("HYB_ERR_MANIFEST", str(path), "dry run", "output 'y'", "[2, 8]", "[2, 9]"):
        open_model(path, declarations=wrong)
    wrong_input = Manifest(inputs=[TensorSpec("x", [15])], outputs=[TensorSpec("y", [8])])
    with raises("HYB_ERR_MANIFEST", str(path), "dry run", "forward failed"):
        open_model(path, declarations=wrong_input)


def test_no_manifest_queries_show_declarations(c_model, no_manifest):
    path, declared = no_manifest
    with c_model(path, declarations=declared) as m:
        assert m.tensors("input") == [{"name": "x", "shape": [16], "dtype": "float32", "batch_axis": 0}]
        assert m.manifest().outputs[0].shape == [8]


# ---- arrays ----


def test_wrong_array_shape(open_model, mlp_small, v1_x):
    model = open_model(mlp_small)
    with raises("HYB_ERR_SHAPE", "input 'x'", "[7, 123]", "[ncol, 124]"):
        model.run({"x": v1_x[:7, :123]})


def test_wrong_array_rank(open_model, multi_io):
    model = open_model(multi_io)
    inputs = models.example_inputs(models.read_manifest(multi_io), 4)
    inputs["profiles"] = inputs["profiles"].reshape(4, 120)
    with raises("HYB_ERR_SHAPE", "input 'profiles'", "[4, 120]", "[ncol, 2, 60]"):
        model.run(inputs)


def test_ncol_differs_between_inputs(c_model, multi_io):
    inputs = models.example_inputs(models.read_manifest(multi_io), 4)
    inputs["scalars"] = inputs["scalars"][:3]
    with c_model(multi_io) as m, raises("HYB_ERR_SHAPE", "ncol=3", "ncol=4"):
        m.run(inputs)


def test_wrong_dtype_integer_array(open_model, mlp_small):
    with raises("HYB_ERR_DTYPE", "input 'x'", "int64"):
        open_model(mlp_small).run({"x": np.zeros((3, 124), dtype=np.int64)})


def test_wrong_dtype_code_in_c_abi(c_model, mlp_small):
    x = np.zeros((3, 124))
    with c_model(mlp_small) as m:
        status = core.lib().hyb_model_bind(
            m.handle,
            0,
            b"x",
            core.ffi().cast("void *", x.ctypes.data),
            7,
            2,
            core.ffi().new("int64_t[]", [3, 124]),
        )
        assert status == STATUS["HYB_ERR_DTYPE"]
        assert "input 'x'" in core.last_error() and "dtype code 7" in core.last_error()


def test_unknown_tensor_name(open_model, mlp_small, v1_x):
    with raises("HYB_ERR_NAME", "input 'temperature'", "inputs: x"):
        open_model(mlp_small).run({"x": v1_x[:2], "temperature": v1_x[:2]})


def test_unbound_output(c_model, mlp_small, v1_x):
    x = np.ascontiguousarray(v1_x[:2])
    with c_model(mlp_small) as m:
        m.bind("input", "x", x)
        with raises("HYB_ERR_ORDER", "output 'y' is not bound"):
            m.run_bound()
        # Bindings are cleared after each run, also a failed one.
        with raises("HYB_ERR_ORDER", "input 'x' is not bound"):
            m.run_bound()


def test_failed_bind_drops_earlier_bindings(c_model, mlp_small, v1_x):
    """After a failed bind the host may free what it bound: nothing stale may be used."""
    x = np.ascontiguousarray(v1_x[:2])
    y = np.empty((2, 128))
    with c_model(mlp_small) as m:
        m.bind("input", "x", x)
        with raises("HYB_ERR_NAME", "output 'z'"):
            m.bind("output", "z", y)
        m.bind("output", "y", y)
        with raises("HYB_ERR_ORDER", "input 'x' is not bound"):
            m.run_bound()


# ---- non-finite inputs ----


@pytest.mark.parametrize("bad, kind", [(np.nan, "NaN"), (np.inf, "+Inf"), (-np.inf, "-Inf")])
def test_nonfinite_rejected(open_model, mlp_small, v1_x, bad, kind):
    x = v1_x[:5].copy()
    x[3, 65] = bad  # column 3, state_q0001 at level 5
    with raises("HYB_ERR_NONFINITE", "input 'x'", kind, "column 3", "feature 65", "state_q0001 index 5"):
        open_model(mlp_small).run({"x": x})


def test_nonfinite_passed_and_counted(open_model, mlp_small, v1_x):
    x = v1_x[:5].copy()
    x[0, 0], x[2, 121], x[4, 123] = np.nan, np.inf, -np.inf
    model = open_model(mlp_small, options={"nonfinite": "pass"})
    y = model.run({"x": x})["y"]
    assert model.nonfinite_count() == 3
    assert np.isfinite(y[1]).all() and not np.isfinite(y[0]).all()
    model.run({"x": x})
    assert model.nonfinite_count() == 6


# ---- handles and call order ----


def test_freed_handle(c_model, mlp_small, v1_x):
    m = c_model(mlp_small)
    m.free()
    with raises("HYB_ERR_HANDLE", f"handle {m.handle} was freed"):
        m.run({"x": v1_x[:2]})


def test_double_free(c_model, mlp_small):
    m = c_model(mlp_small)
    m.free()
    with raises("HYB_ERR_HANDLE", f"handle {m.handle}", "double free"):
        m.free()


def test_unknown_and_zero_handle(c_model):
    c_model()  # makes sure the library is loaded
    n = core.ffi().new("int *")
    assert core.lib().hyb_model_count(10**12, 0, n) == STATUS["HYB_ERR_HANDLE"]
    assert "unknown" in core.last_error()
    assert core.lib().hyb_model_run(0) == STATUS["HYB_ERR_HANDLE"]
    assert "handle 0" in core.last_error()


def test_handles_are_not_reused(c_model):
    a = c_model()
    first = a.handle
    a.free()
    b = c_model()
    assert b.handle != first


def test_run_before_load(c_model):
    with c_model() as m, raises("HYB_ERR_ORDER", "no model is loaded", "hyb_model_load"):
        m.run_bound()


def test_load_twice(c_model, mlp_small):
    with c_model(mlp_small) as m, raises("HYB_ERR_ORDER", "already holds", str(mlp_small)):
        m.load(mlp_small)


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("devise", "cpu", ["unknown option 'devise'", "device, threads"]),
        ("chunk", "-1", ["option chunk", "'-1'", "not a whole number", "0..16777216"]),
        ("chunk", "1000000000000", ["option chunk", "1000000000000", "out of range 0..16777216"]),
        ("chunk", "16x", ["option chunk", "'16x'"]),
        ("threads", "0", ["option threads", "value 0", "out of range 1.."]),
        ("threads", "100000", ["option threads", "100000", "out of range 1..", "logical CPUs"]),
        ("threads", "9999999999", ["option threads", "9999999999", "out of range"]),
        ("seed", "-3", ["option seed", "'-3'", "not a whole number"]),
        ("step", "x", ["option step", "'x'", "not a whole number"]),
        ("node_timeout", "0", ["option node_timeout", "out of range 1.."]),
        ("record_calls", "1,,3", ["option record_calls", "not a whole number"]),
        ("record_every", "0", ["option record_every", "out of range 1.."]),
        ("record", "", ["option record", "folder name is empty"]),
        ("nonfinite", "ignore", ["option nonfinite", "'ignore'", "reject, pass"]),
        ("device", "gpu", ["option device", "'gpu'", "cuda:N"]),
        ("device", "cuda:x", ["option device", "'cuda:x'"]),
        ("batching", "socket", ["option batching", "'socket'", "node, rank"]),
        ("heap", "jemalloc", ["option heap", "'jemalloc'", "keep, system"]),
        ("cuda_graphs", "yes", ["option cuda_graphs", "'yes'", "on, off"]),
    ],
)
def test_bad_options(open_model, key, value, words):
    with raises("HYB_ERR_ARGUMENT", *words):
        open_model(options={key: value})


def test_option_after_load(c_model, mlp_small):
    with c_model(mlp_small) as m:
        with raises("HYB_ERR_ORDER", "option chunk", "before hyb_model_load"):
            m.set_option("chunk", 16)
        with raises("HYB_ERR_ORDER", "option heap", "before hyb_model_load"):
            m.set_option("heap", "system")
        m.set_option("nonfinite", "pass")  # allowed after load


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu(open_model, mlp_small):
    with raises("HYB_ERR_DEVICE", "device=cuda", "no CUDA GPU"):
        open_model(mlp_small, options={"device": "cuda"})


def test_auto_device_without_gpu_is_cpu(c_model, mlp_small):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with c_model(mlp_small, options={"device": "auto"}) as m:
        assert m.device() == "cpu"


def test_cuda_graphs_need_a_cuda_device(open_model, mlp_small, v1_x):
    with raises("HYB_ERR_ARGUMENT", "cuda_graphs=on needs chunk=N"):
        open_model(mlp_small, options={"cuda_graphs": "on"})
    with raises("HYB_ERR_DEVICE", "cuda_graphs=on needs a CUDA device", "runs on cpu"):
        open_model(mlp_small, options={"device": "cpu", "chunk": 8, "cuda_graphs": "on"})
    if torch.cuda.is_available():
        return
    # device=auto on a machine without GPU: the option is ignored, the model runs on the CPU
    expected = open_model(mlp_small, options={"chunk": 8}).run({"x": v1_x})["y"]
    got = open_model(mlp_small, options={"device": "auto", "chunk": 8, "cuda_graphs": "on"}).run({"x": v1_x})[
        "y"
    ]
    assert got.tobytes() == expected.tobytes()


def test_comm_without_mpi_init(c_model):
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized():
        pytest.skip("MPI was initialized in this process by another test")
    with c_model() as m, raises("HYB_ERR_MPI", "MPI is not initialized"):
        m.set_comm(0)


def test_bad_declarations(c_model):
    with c_model() as m:
        with raises("HYB_ERR_ARGUMENT", "input 'x'", "batch_axis 2"):
            m.declare("input", "x", [124], batch_axis=2)
        with raises("HYB_ERR_ARGUMENT", "input 'x'", "shape [0]"):
            m.declare("input", "x", [0])
        m.declare("input", "x", [124])
        with raises("HYB_ERR_ARGUMENT", "output 'x'", "already declared as input"):
            m.declare("output", "x", [124])


# ---- recurrent state ----


def test_state_ncol_change_needs_reset(open_model, recurrent):
    manifest = models.read_manifest(recurrent)
    model = open_model(recurrent)
    model.run(models.example_inputs(manifest, 7))
    with raises("HYB_ERR_SHAPE", "ncol=7", "ncol=5", "reset"):
        model.run(models.example_inputs(manifest, 5))
    model.reset_state()
    model.run(models.example_inputs(manifest, 5))


def test_unknown_state_name(open_model, recurrent):
    with raises("HYB_ERR_NAME", "state 'c'", "states: h"):
        open_model(recurrent).get_state("c", 7)


def test_wrong_state_shape(open_model, recurrent):
    with raises("HYB_ERR_SHAPE", "state 'h'", "[7, 16, 2]", "[ncol, 2, 16]"):
        open_model(recurrent).set_state("h", np.zeros((7, 16, 2)))


# ---- the C ABI's own plumbing ----


def test_last_error_is_per_thread(c_model, tmp_path):
    c_model()
    seen = {}
    barrier = threading.Barrier(2)

    def fail_and_read(tag):
        m = core.Model()
        status = core.lib().hyb_model_load(m.handle, str(tmp_path / f"{tag}.pt").encode())
        barrier.wait()  # both threads have failed before either reads
        seen[tag] = (status, core.last_error())
        m.free()

    threads = [threading.Thread(target=fail_and_read, args=(t,)) for t in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for tag in ("first", "second"):
        status, message = seen[tag]
        assert status == STATUS["HYB_ERR_FILE"]
        assert f"{tag}.pt" in message
    assert "first.pt" not in seen["second"][1]


def test_last_error_truncation(c_model, tmp_path):
    c_model()
    core.lib().hyb_model_load(0, b"x.pt")
    full = core.ffi().new("int64_t *")
    buf = core.ffi().new("char[]", 8)
    assert core.lib().hyb_last_error(buf, 8, full) == 0
    message = core.last_error()
    assert full[0] == len(message) > 7
    assert core.ffi().string(buf).decode() == message[:7]


def test_status_names(c_model):
    c_model()
    for name, code in STATUS.items():
        assert core.ffi().string(core.lib().hyb_status_name(code)).decode() == name


def test_cffi_declarations_come_from_the_header():
    """core declares the C ABI by reading hybridge.h: every function and enum is reachable."""
    import re

    from hybridge import install

    header = install.header_path().read_text()
    functions = set(re.findall(r"\b(hyb_\w+)\s*\(", header))
    assert len(functions) > 20
    for name in functions:
        assert callable(getattr(core.lib(), name)), name
    assert core.STATUS["HYB_ERR_SHAPE"] == 5 and core.STATUS["HYB_ERR_INTERNAL"] == 99
    assert core.ROLES == {"input": 0, "output": 1, "state": 2}
    assert core.DTYPES == {"float32": 0, "float64": 1, "int32": 2, "int64": 3}
    assert core.HYB_MAX_NDIM == 8


def test_threads_option_applies_to_this_models_runs_only(c_model, mlp_small, v1_x, tmp_path):
    """libtorch's thread count is process-wide: a model's threads option sets it for the length of
    its own runs and puts the process's value back, and a handle whose load failed changes nothing."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with c_model(mlp_small, options={"threads": 1}) as m:
            assert torch.get_num_threads() == 2
            m.run({"x": v1_x})
            assert torch.get_num_threads() == 2
        with pytest.raises(HybridgeError):
            c_model(tmp_path / "missing.pt", options={"threads": 1})
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_queries(c_model, mlp_small):
    with c_model(mlp_small) as m:
        assert m.device() == "cpu"
        assert m.tensors("output") == [{"name": "y", "shape": [128], "dtype": "float32", "batch_axis": 0}]
        layout = m.layout("input", "x")
        assert layout[:2] == [("state_t", 0, 60), ("state_q0001", 60, 60)]
        assert layout[-1] == ("pbuf_SHFLX", 123, 1)
        assert m.manifest() == models.read_manifest(mlp_small)
        with raises("HYB_ERR_NAME", "input 'q'"):
            m.layout("input", "q")
