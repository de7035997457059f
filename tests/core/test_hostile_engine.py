"""Hostile inputs and faults against the engine (issue 12) and models as users bring them
(issue 17): every case asserts the status and the words of the message, or the exact bits.

- a model's own error reaches the caller whole (its exception and its line of code);
- values the model would receive as NaN/Inf (also float64 beyond float32's range, and NaN
  handed in through set_state) are refused under nonfinite=reject;
- a model that writes into its input never changes the caller's array;
- threads sharing a handle never run on each other's arrays; recurrent state stays with the
  thread whose columns it holds;
- sizes that overflow or cannot fit in memory are refused before anything is allocated;
- the checksum covers the model's code, not only its weights;
- declarations are checked against the names of forward's arguments;
- inputs without a column axis, and integer inputs, run bit-identical to Python;
- a stochastic model is reproducible with seed (REP, and ERS through the step option);
- recorded calls hold exactly what the host passed and got.
"""

import json
import threading

import numpy as np
import pytest
import torch
from expect import raises

from hybridge.manifest import EXTRA_FILE, Manifest, TensorSpec, read_manifest, save_model
from hybridge.testing import models

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The fixture models of this file, made once: name -> (path, manifest)."""
    d = tmp_path_factory.mktemp("hostile_models")
    out = {}
    for name, maker in [
        ("raiser", models.make_raiser),
        ("field_input", models.make_field_input),
        ("int_input", models.make_int_input),
        ("stochastic", models.make_stochastic),
        ("inplace", models.make_inplace),
    ]:
        path = d / f"{name}.pt"
        out[name] = (path, maker(path))
    return out


def _same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# ---- the model's own reason, whole ----


def test_the_models_own_error_reaches_the_caller(open_model, made):
    path, _ = made["raiser"]
    with (
        open_model(path) as m,
        raises(
            "HYB_ERR_RUNTIME",
            "RuntimeError: emulator: more than 3 columns in one batch",
            "[model code",
            "line",
            "raise RuntimeError",
        ),
    ):
        m.run({"x": np.zeros((5, 4))})


def test_the_operators_complaint_reaches_the_caller(c_model, tmp_path):
    class CatMismatch(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[0] > 2:
                return torch.cat([x, x[:, :2]], dim=0)
            return x

    path = tmp_path / "cat.pt"
    with models._torchscript():
        save_model(
            torch.jit.script(CatMismatch()),
            Manifest(inputs=[TensorSpec("x", [4])], outputs=[TensorSpec("y", [4])]),
            path,
        )
    with c_model(path) as m, raises("HYB_ERR_RUNTIME", "Sizes of tensors must match", "torch.cat"):
        m.run({"x": np.zeros((5, 4))})


def test_a_failing_dry_run_says_why(c_model, tmp_path):
    class NeedsThree(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.view(-1, 3, 4).sum(1)

    path = tmp_path / "needs3.pt"
    with models._torchscript():
        save_model(
            torch.jit.script(NeedsThree()),
            Manifest(inputs=[TensorSpec("x", [4])], outputs=[TensorSpec("y", [4])]),
            path,
        )
    with raises("HYB_ERR_MANIFEST", "dry run", "shape '[-1, 3, 4]' is invalid", "[model code"):
        c_model(path)


# ---- what the model receives ----


def test_float64_beyond_float32_range_is_refused(open_model, mlp_small, v1_x):
    x = v1_x[:4].copy()
    x[2, 61] = 1e300  # finite in float64, +Inf once cast to the float32 model
    with (
        open_model(mlp_small) as m,
        raises(
            "HYB_ERR_NONFINITE",
            "input 'x'",
            "1e+300",
            "beyond float32's range",
            "column 2",
            "state_q0001 index 1",
        ),
    ):
        m.run({"x": x})


def test_float64_beyond_float32_range_is_counted_with_pass(open_model, mlp_small, v1_x):
    x = v1_x[:4].copy()
    x[0, 0] = -3e39
    with open_model(mlp_small, options={"nonfinite": "pass"}) as m:
        m.run({"x": x})
        assert m.nonfinite_count() == 1


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e300])
def test_nonfinite_recurrent_state_is_refused(open_model, recurrent, bad):
    h = np.zeros((3, models.RECURRENT_LAYERS, models.RECURRENT_HIDDEN))
    h[1, 0, 5] = bad
    with open_model(recurrent) as m, raises("HYB_ERR_NONFINITE", "state 'h'", "column 1", "feature [0, 5]"):
        m.set_state("h", h)


def test_a_model_writing_into_its_input_never_changes_the_callers_array(c_model, made):
    path, _ = made["inplace"]
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    before = x.copy()
    with c_model(path) as m:
        y = m.run({"x": x}, out_dtype=np.float32)["y"]  # float32 host: the zero-copy path
    assert _same_bits(x, before)
    np.testing.assert_array_equal(y, 2 * before + 1)


# ---- threads sharing one handle ----


def test_threads_sharing_a_handle_get_their_own_outputs(c_model, mlp_small, v1_x):
    with c_model(mlp_small, options={"threads": 1}) as m:
        expected = {k: m.run({"x": v1_x[k : k + 5]})["y"] for k in range(6)}
        wrong = []

        def work(k):
            x = np.ascontiguousarray(v1_x[k : k + 5])
            for _ in range(30):
                y = np.empty((5, 128))
                m.bind("input", "x", x)
                m.bind("output", "y", y)
                m.run_bound()
                if not _same_bits(y, expected[k]):
                    wrong.append(k)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
    assert wrong == []


def test_a_second_thread_cannot_run_a_recurrent_models_columns(c_model, recurrent):
    x = models.example_inputs(read_manifest(recurrent), 4)["x"]
    errors = []
    with c_model(recurrent) as m:
        m.run({"x": x})

        def other():
            try:
                m.run({"x": x})
            except Exception as e:
                errors.append(e)

        t = threading.Thread(target=other)
        t.start()
        t.join(timeout=60)
        m.reset_state()  # the state is free again: another thread may take it
        t = threading.Thread(target=other)
        t.start()
        t.join(timeout=60)
    assert len(errors) == 1
    assert errors[0].name == "HYB_ERR_ORDER" and "another thread" in errors[0].message


def test_a_bind_made_by_another_thread_is_not_this_threads(c_model, mlp_small, v1_x):
    with c_model(mlp_small) as m:
        x = v1_x[:3]
        t = threading.Thread(target=lambda: m.bind("input", "x", x))
        t.start()
        t.join(timeout=60)
        m.bind("output", "y", np.empty((3, 128)))
        with raises("HYB_ERR_ORDER", "input 'x' is not bound", "by this thread"):
            m.run_bound()


# ---- sizes ----


def test_an_array_larger_than_any_memory_is_refused(c_model, mlp_small, abi):
    ffi, lib = abi
    from hybridge import core

    with c_model(mlp_small) as m:
        shape = ffi.new("int64_t[]", [2**40, 2**40])
        data = ffi.new("double[]", 4)
        status = lib.hyb_model_bind(m.handle, 0, b"x", data, 1, 2, shape)
        assert core.ffi().string(lib.hyb_status_name(status)).decode() == "HYB_ERR_SHAPE"
        assert "expected [ncol, 124]" in core.last_error()
        shape = ffi.new("int64_t[]", [2**61, 124])
        status = lib.hyb_model_bind(m.handle, 0, b"x", data, 1, 2, shape)
        assert "larger than any memory" in core.last_error()


def test_a_manifest_shape_beyond_memory_is_refused_before_allocating(c_model, tmp_path):
    class Id(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    path = tmp_path / "huge.pt"
    with models._torchscript():
        save_model(
            torch.jit.script(Id()),
            Manifest(inputs=[TensorSpec("x", [10**12])], outputs=[TensorSpec("y", [10**12])]),
            path,
        )
    with raises("HYB_ERR_ARGUMENT", "input 'x'", "[2, 1000000000000]", "GiB", "memory"):
        c_model(path)


def test_a_chunk_beyond_memory_is_refused_naming_the_option(c_model, tmp_path):
    class Id(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    path = tmp_path / "wide.pt"
    with models._torchscript():
        save_model(
            torch.jit.script(Id()),
            Manifest(inputs=[TensorSpec("x", [1 << 20])], outputs=[TensorSpec("y", [1 << 20])]),
            path,
        )
    with raises("HYB_ERR_ARGUMENT", "chunk=16777216", "input 'x'", "GiB", "memory"):
        c_model(path, options={"chunk": 1 << 24})


# ---- the checksum covers the code ----


def test_edited_code_with_the_same_weights_fails_the_checksum(c_model, tmp_path):
    class Twice(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("w", torch.ones(4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.w * 2.0

    class Thrice(Twice):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.w * 3.0

    original, edited = tmp_path / "twice.pt", tmp_path / "edited.pt"
    manifest = Manifest(inputs=[TensorSpec("x", [4])], outputs=[TensorSpec("y", [4])])
    with models._torchscript():
        save_model(torch.jit.script(Twice()), manifest, original)
        text = read_manifest(original).to_json()
        torch.jit.save(torch.jit.script(Thrice()), str(edited), _extra_files={EXTRA_FILE: text})
    with c_model(original):
        pass
    with raises("HYB_ERR_MANIFEST", "checksum mismatch", "code, constants or weights"):
        c_model(edited)


# ---- declarations against forward's argument names ----


class _TwoInputs(torch.nn.Module):
    def forward(self, temperature: torch.Tensor, humidity: torch.Tensor) -> torch.Tensor:
        return temperature - 1000.0 * humidity


def _two_inputs(tmp_path, names, manifest=True):
    path = tmp_path / "two_inputs.pt"
    specs = Manifest(inputs=[TensorSpec(n, [3]) for n in names], outputs=[TensorSpec("y", [3])])
    with models._torchscript():
        scripted = torch.jit.script(_TwoInputs())
        if manifest:
            save_model(scripted, specs, path)
        else:
            torch.jit.save(scripted, str(path))
    return path, specs


def test_swapped_inputs_in_a_manifest_are_refused(c_model, tmp_path):
    path, _ = _two_inputs(tmp_path, ["humidity", "temperature"])
    with raises("HYB_ERR_MANIFEST", "argument 1", "'temperature'", "input 'humidity'", "argument 2"):
        c_model(path)


def test_swapped_declarations_without_a_manifest_are_refused(c_model, tmp_path):
    path, specs = _two_inputs(tmp_path, ["humidity", "temperature"], manifest=False)
    with raises("HYB_ERR_MANIFEST", "declarations", "forward(self, temperature, humidity)", "'humidity'"):
        c_model(path, declarations=specs)


def test_a_misspelled_declaration_is_refused(c_model, tmp_path):
    path, specs = _two_inputs(tmp_path, ["temperature", "humidty"], manifest=False)
    with raises("HYB_ERR_MANIFEST", "argument 2", "'humidity'", "input 'humidty'"):
        c_model(path, declarations=specs)


def test_declarations_in_forwards_order_run(c_model, tmp_path):
    path, specs = _two_inputs(tmp_path, ["temperature", "humidity"], manifest=False)
    t, q = np.full((2, 3), 280.0), np.full((2, 3), 0.01)
    with c_model(path, declarations=specs) as m:
        np.testing.assert_array_equal(m.run({"temperature": t, "humidity": q})["y"], np.full((2, 3), 270.0))


# ---- models as users bring them ----


def test_an_input_without_a_column_axis_runs_bit_identical_to_python(open_model, made):
    path, manifest = made["field_input"]
    x = models.example_inputs(manifest, 9, seed=3)
    expected, _ = models.reference(path, x)
    with open_model(path) as m:
        assert _same_bits(m.run(x)["y"], expected["y"])


def test_an_unbatched_input_must_have_its_own_shape(open_model, made):
    path, manifest = made["field_input"]
    x = models.example_inputs(manifest, 4)
    x["field"] = np.zeros((4, 5))  # as if it had a column axis
    with open_model(path) as m, raises("HYB_ERR_SHAPE", "input 'field'", "expected [5]", "no column axis"):
        m.run(x)


def test_an_unbatched_output_needs_one_forward_per_run(c_model, tmp_path):
    class Mean(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean(0)

    path = tmp_path / "mean.pt"
    with models._torchscript():
        save_model(
            torch.jit.script(Mean()),
            Manifest(inputs=[TensorSpec("x", [3])], outputs=[TensorSpec("m", [3], batch_axis=-1)]),
            path,
        )
    with raises("HYB_ERR_ARGUMENT", "chunk=4", "output 'm'", "no column axis", "chunk=0"):
        c_model(path, options={"chunk": 4})
    x = np.arange(12.0).reshape(4, 3)
    with c_model(path) as m:
        np.testing.assert_array_equal(m.run({"x": x})["m"], x.mean(0))


@pytest.mark.parametrize("host", [np.int32, np.int64])
def test_an_integer_input_runs_bit_identical_to_python(open_model, made, host):
    path, manifest = made["int_input"]
    x = models.example_inputs(manifest, 11, seed=2)
    expected, _ = models.reference(path, x)
    x["surface"] = x["surface"].astype(host)
    with open_model(path) as m:
        assert _same_bits(m.run(x)["y"], expected["y"])


def test_a_float_array_for_an_integer_input_is_refused(open_model, made):
    path, manifest = made["int_input"]
    x = models.example_inputs(manifest, 3)  # surface as float64
    with open_model(path) as m, raises("HYB_ERR_DTYPE", "input 'surface'", "float64", "int64", "integers"):
        m.run(x)


# ---- stochastic models ----


def _draws(path, calls, options=None, steps=None):
    from hybridge.core import Model

    x = np.zeros((5, 4))
    out = []
    with Model(path, options=options or {}) as m:
        for k in range(calls):
            if steps is not None:
                m.set_option("step", steps[k])
            out.append(m.run({"x": x})["y"])
    return out


def test_a_stochastic_model_is_reproducible_with_seed(c_model, made):
    path, _ = made["stochastic"]
    a = _draws(path, 3, {"seed": 7})
    b = _draws(path, 3, {"seed": 7})
    assert all(_same_bits(u, v) for u, v in zip(a, b, strict=True))  # REP
    assert not _same_bits(a[0], a[1])  # the draws advance from call to call
    assert not _same_bits(a[0], _draws(path, 1, {"seed": 8})[0])
    unseeded = _draws(path, 2)
    assert not _same_bits(unseeded[0], _draws(path, 1)[0])


def test_a_stochastic_model_restarts_exactly_from_the_step(c_model, made):
    """ERS: the host passes its step counter; a restarted run continues the same draws."""
    path, _ = made["stochastic"]
    straight = _draws(path, 4, {"seed": 7}, steps=[0, 1, 2, 3])
    restarted = _draws(path, 2, {"seed": 7}, steps=[2, 3])
    assert _same_bits(straight[2], restarted[0]) and _same_bits(straight[3], restarted[1])


def test_seeded_draws_leave_the_processes_generator_alone(c_model, made):
    path, _ = made["stochastic"]
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _draws(path, 2, {"seed": 7})
    assert torch.equal(torch.rand(3), expected)


# ---- recording calls ----


def test_recorded_calls_hold_what_the_host_passed_and_got(c_model, recurrent, tmp_path):
    record = tmp_path / "calls"
    xs = [models.example_inputs(read_manifest(recurrent), 4, seed=s)["x"] for s in range(4)]
    with c_model(recurrent, options={"record": record, "record_every": 2}) as m:
        ys = [m.run({"x": x})["y"] for x in xs]
    dirs = sorted(p.name for p in record.iterdir())
    assert [d.split(".")[-1] for d in dirs] == ["call2", "call4"], dirs
    call = record / dirs[1]
    meta = json.loads((call / "call.json").read_text())
    assert meta["call"] == 4 and meta["checksum"] == read_manifest(recurrent).checksum
    assert _same_bits(np.load(call / "input.x.npy"), xs[3])
    assert _same_bits(np.load(call / "output.y.npy"), ys[3])
    assert np.load(call / "state_in.h.npy").shape == (4, models.RECURRENT_LAYERS, models.RECURRENT_HIDDEN)


def test_recording_into_an_unwritable_folder_is_refused_at_load(c_model, mlp_small, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with raises("HYB_ERR_FILE", "option record", str(blocker / "calls")):
        c_model(mlp_small, options={"record": blocker / "calls", "record_every": 1})
