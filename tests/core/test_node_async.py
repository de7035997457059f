"""The asynchronous run (hyb_model_run_start / hyb_model_run_finish) with rank batching,
and device pointers (hyb_model_bind_device) -- through the C ABI. batching=node runs the
same calls under mpirun in test_node_batching.py."""

import numpy as np
import pytest
import torch

from hybridge import core
from hybridge.core import HybridgeError
from hybridge.manifest import read_manifest
from hybridge.testing import models


def bind_all(model, x, y):
    model.bind("input", "x", x)
    model.bind("output", "y", y)


def test_start_finish_gives_the_bits_of_run(c_model, abi, mlp_v1, v1_x):
    _, lib = abi
    with c_model(mlp_v1, options={"chunk": 16}) as m:
        expected = m.run({"x": v1_x})["y"]
        y = np.empty_like(expected)
        bind_all(m, v1_x, y)
        core.check(lib.hyb_model_run_start(m.handle))
        host_physics = np.cumsum(np.ones(100000))  # work the host overlaps with inference
        core.check(lib.hyb_model_run_finish(m.handle))
        assert host_physics[-1] == 100000
        assert y.tobytes() == expected.tobytes()


def test_recurrent_state_advances_once_per_async_run(c_model, abi, recurrent):
    _, lib = abi
    xs = [models.example_inputs(read_manifest(recurrent), 9, seed=s)["x"] for s in range(2)]
    # The caller runs 1 intra-op thread; a worker thread must not fall back to the OpenMP
    # default (2 here), which changes the bits of a 9-column batch.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with c_model(recurrent) as sync, c_model(recurrent) as split:
        for x in xs:
            expected = sync.run({"x": x})["y"]
            y = np.empty_like(expected)
            bind_all(split, x, y)
            core.check(lib.hyb_model_run_start(split.handle))
            core.check(lib.hyb_model_run_finish(split.handle))
            assert y.tobytes() == expected.tobytes()
        assert split.get_state("h", 9).tobytes() == sync.get_state("h", 9).tobytes()
    torch.set_num_threads(before)


def test_calls_during_a_run_in_flight_are_refused(c_model, abi, mlp_small, v1_x):
    _, lib = abi
    m = c_model(mlp_small)
    y = np.empty((v1_x.shape[0], 128))
    bind_all(m, v1_x, y)
    core.check(lib.hyb_model_run_start(m.handle))
    for call in (
        lambda: m.run({"x": v1_x}),
        lambda: m.bind("input", "x", v1_x),
        lambda: m.set_option("threads", 1),
        m.reset_state,
        m.free,
        m.manifest_text,
        m.device,
        lambda: m.tensors("input"),
        lambda: m.layout("input", "x"),
        m.nonfinite_count,
        lambda: m.get_state("h", 1),
    ):
        with pytest.raises(HybridgeError, match="in flight") as e:
            call()
        assert e.value.name == "HYB_ERR_ORDER"
    with pytest.raises(HybridgeError, match="a run started with hyb_model_run_start"):
        core.check(lib.hyb_model_run_start(m.handle))
    core.check(lib.hyb_model_run_finish(m.handle))
    assert np.isfinite(y).all()
    with pytest.raises(HybridgeError, match="no run is in flight") as e:
        core.check(lib.hyb_model_run_finish(m.handle))
    assert e.value.name == "HYB_ERR_ORDER"
    m.free()


def test_start_reports_bad_inputs_itself(c_model, abi, mlp_small, v1_x):
    _, lib = abi
    bad = v1_x.copy()
    bad[2, 7] = np.inf
    with c_model(mlp_small) as m:
        bind_all(m, bad, np.empty((bad.shape[0], 128)))
        with pytest.raises(HybridgeError, match=r"\+Inf at column 2") as e:
            core.check(lib.hyb_model_run_start(m.handle))
        assert e.value.name == "HYB_ERR_NONFINITE"
        # nothing is in flight and the bindings are gone
        with pytest.raises(HybridgeError, match="no run is in flight"):
            core.check(lib.hyb_model_run_finish(m.handle))
        with pytest.raises(HybridgeError, match="is not bound"):
            core.check(lib.hyb_model_run_start(m.handle))


def test_device_pointer_needs_a_cuda_model(c_model, abi, mlp_small, v1_x):
    ffi, lib = abi
    with c_model(mlp_small) as m:
        shape = ffi.new("int64_t[]", list(v1_x.shape))
        status = lib.hyb_model_bind_device(
            m.handle,
            core.ROLES["input"],
            b"x",
            ffi.cast("void *", v1_x.ctypes.data),
            core.DTYPES["float64"],
            2,
            shape,
        )
        with pytest.raises(HybridgeError, match=r"device pointer was bound .* runs on cpu") as e:
            core.check(status)
        assert e.value.name == "HYB_ERR_DEVICE"


def test_device_pointers_on_a_gpu(c_model, abi, mlp_v1, v1_x):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to libtorch")
    ffi, lib = abi
    with c_model(mlp_v1, options={"device": "cuda", "chunk": 64}) as m:
        from_host = m.run({"x": v1_x})["y"]
        x = torch.from_numpy(v1_x).cuda()
        y = torch.empty((v1_x.shape[0], 128), dtype=torch.float64, device="cuda")
        for role, name, t in (("input", b"x", x), ("output", b"y", y)):
            core.check(
                lib.hyb_model_bind_device(
                    m.handle,
                    core.ROLES[role],
                    name,
                    ffi.cast("void *", t.data_ptr()),
                    core.DTYPES["float64"],
                    2,
                    ffi.new("int64_t[]", list(t.shape)),
                )
            )
        core.check(lib.hyb_model_run_start(m.handle))
        core.check(lib.hyb_model_run_finish(m.handle))
        torch.cuda.synchronize()
        assert y.cpu().numpy().tobytes() == from_host.tobytes()


def test_cuda_graphs_give_the_bits_of_plain_launches(c_model, mlp_v1, recurrent, v1_x):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to libtorch")
    options = {"device": "cuda", "chunk": 64}
    with (
        c_model(mlp_v1, options=options) as plain,
        c_model(mlp_v1, options={**options, "cuda_graphs": "on"}) as graphed,
    ):
        for ncol in (v1_x.shape[0], 5, v1_x.shape[0]):  # one graph, replayed; a padded chunk
            x = np.ascontiguousarray(v1_x[:ncol])
            assert graphed.run({"x": x})["y"].tobytes() == plain.run({"x": x})["y"].tobytes()
    xs = [models.example_inputs(read_manifest(recurrent), 9, seed=s)["x"] for s in range(3)]
    with (
        c_model(recurrent, options=options) as plain,
        c_model(recurrent, options={**options, "cuda_graphs": "on"}) as graphed,
    ):
        for x in xs:  # the state goes in and out of the graph's own tensors
            assert graphed.run({"x": x})["y"].tobytes() == plain.run({"x": x})["y"].tobytes()


def test_bind_without_data_is_refused(c_model, abi, mlp_small, v1_x):
    ffi, lib = abi
    with c_model(mlp_small) as m:
        shape = ffi.new("int64_t[]", list(v1_x.shape))
        status = lib.hyb_model_bind(
            m.handle, core.ROLES["input"], b"x", ffi.NULL, core.DTYPES["float64"], 2, shape
        )
        with pytest.raises(HybridgeError, match="input 'x': the data pointer is NULL") as e:
            core.check(status)
        assert e.value.name == "HYB_ERR_ARGUMENT"


def test_free_waits_for_its_handle_only(c_model, mlp_v1, mlp_small, v1_x):
    """hyb_model_free of a handle busy in a long run waits for it without holding up calls
    on other handles (the registry is not locked while it waits)."""
    import threading
    import time

    big = np.repeat(v1_x, 40000 // v1_x.shape[0] + 1, axis=0)  # ~75 GFLOP: seconds on 1 thread
    busy, other = c_model(mlp_v1, options={"threads": 1}), c_model(mlp_small)
    errors = []

    def call(f):
        try:
            f()
        except Exception as e:
            errors.append(e)

    running = threading.Thread(target=call, args=(lambda: busy.run({"x": big}),))
    running.start()
    time.sleep(0.1)  # the run holds the busy handle's lock
    freeing = threading.Thread(target=call, args=(busy.free,))
    freeing.start()
    time.sleep(0.1)  # free now waits for the run
    t0 = time.perf_counter()
    other.tensors("input")
    waited = time.perf_counter() - t0
    still_running = running.is_alive() and freeing.is_alive()
    running.join()
    freeing.join()
    other.free()
    assert not errors, errors
    assert still_running, "the long run ended before the test could check; make it longer"
    assert waited < 0.1, f"a query on another handle waited {waited:.2f} s for a free"
