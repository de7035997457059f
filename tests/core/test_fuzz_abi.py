"""Property-based fuzzing of the C ABI's shape, dtype, ndim and option arguments (hypothesis):
whatever the caller passes, every call returns a known status, a failure leaves a message that
names the call, nothing crashes, and the calls that should succeed do.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybridge import core

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
KNOWN = set(core.STATUS.values())


def _status_and_message(status: int, call: str):
    assert status in KNOWN, status
    if status != core.HYB_OK:
        msg = core.last_error()
        assert msg.startswith(call + ":") and len(msg) > len(call) + 5, msg
        return core.ffi().string(core.lib().hyb_status_name(status)).decode(), msg
    return "HYB_OK", ""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from hybridge.testing import models

    path = tmp_path_factory.mktemp("fuzz") / "mlp.pt"
    models.make_mlp_v1(path, hidden=(8,))
    m = core.Model(path)
    yield m
    m.free()


dims = st.one_of(
    st.integers(-3, 130), st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, 1, 124, 2**31, 2**62])
)


@FUZZ
@given(
    shape=st.lists(dims, min_size=0, max_size=9),
    ndim=st.integers(-2, 10),
    dtype=st.integers(-2, 6),
    role=st.integers(-1, 3),
)
def test_bind_takes_any_shape_dtype_and_role(loaded, shape, ndim, dtype, role):
    ffi, lib = core.ffi(), core.lib()
    buf = np.zeros(2 * 124)  # never larger than what a valid shape here could need
    c_shape = ffi.new("int64_t[]", shape or [0])
    n = max(0, min(ndim, len(shape)))
    status = lib.hyb_model_bind(
        loaded.handle, role, b"x", ffi.cast("void *", buf.ctypes.data), dtype, n, c_shape
    )
    name, msg = _status_and_message(status, "hyb_model_bind")
    valid = role == 0 and dtype in (0, 1) and n == 2 and shape[:2] in ([1, 124], [2, 124])
    assert (name == "HYB_OK") == valid, (shape, n, dtype, role, msg)


@FUZZ
@given(
    key=st.sampled_from(
        [
            "device",
            "threads",
            "nonfinite",
            "chunk",
            "batching",
            "cuda_graphs",
            "heap",
            "seed",
            "step",
            "node_timeout",
            "record_calls",
            "record_every",
            "devise",
            "",
        ]
    ),
    value=st.one_of(st.text(max_size=24), st.integers(-(10**20), 10**20).map(str)),
)
def test_set_option_takes_any_value(key, value):
    m = core.Model()
    try:
        status = core.lib().hyb_model_set_option(m.handle, key.encode(), value.encode("utf-8", "replace"))
        name, msg = _status_and_message(status, "hyb_model_set_option")
        if name != "HYB_OK":
            assert name == "HYB_ERR_ARGUMENT" and ("option" in msg), msg
    finally:
        m.free()


@FUZZ
@given(
    shape=st.lists(st.integers(-5, 2**62), min_size=0, max_size=9),
    ndim=st.integers(-2, 10),
    dtype=st.integers(-2, 6),
    axis=st.integers(-3, 9),
    role=st.integers(-1, 3),
    name=st.text(min_size=0, max_size=12),
)
def test_declare_takes_any_declaration(shape, ndim, dtype, axis, role, name):
    ffi, lib = core.ffi(), core.lib()
    m = core.Model()
    try:
        n = max(0, min(ndim, len(shape)))
        status = lib.hyb_model_declare(
            m.handle,
            role,
            name.encode("utf-8", "replace"),
            dtype,
            ndim,
            ffi.new("int64_t[]", shape or [0]) if n else ffi.NULL,
            axis,
        )
        _status_and_message(status, "hyb_model_declare")
    finally:
        m.free()


@FUZZ
@given(buflen=st.integers(-5, 40), index=st.integers(-3, 5), role=st.integers(-2, 4))
def test_queries_take_any_buffer_and_index(loaded, buflen, index, role):
    ffi, lib = core.ffi(), core.lib()
    buf = ffi.new("char[]", max(buflen, 1))
    dtype, ndim, axis = ffi.new("int *"), ffi.new("int *"), ffi.new("int *")
    shape = ffi.new("int64_t[]", 8)
    status = lib.hyb_model_tensor_info(loaded.handle, role, index, buf, buflen, dtype, ndim, shape, axis)
    name, _ = _status_and_message(status, "hyb_model_tensor_info")
    if role in (0, 1) and index == 0 and buflen >= 2:
        assert name == "HYB_OK"
        assert ffi.string(buf).decode() in ("x", "y")
