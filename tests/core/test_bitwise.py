"""PYREF at the engine level: the engine's outputs equal the Python reference
(torch.jit.load, same casts) bit for bit, through the C ABI and through pybind11."""

import numpy as np
import pytest

from hybridge.manifest import read_manifest
from hybridge.testing import models

# hybridge.manifest.read_manifest opens models with torch.jit.load.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


def assert_bitwise(got: dict, want: dict):
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].dtype == np.float64
        assert got[name].shape == want[name].shape, name
        # Raw bytes: equal NaN payloads and signed zeros too, not just values.
        assert got[name].tobytes() == want[name].tobytes(), (
            f"{name}: max |diff| {np.max(np.abs(got[name] - want[name]))}"
        )


@pytest.mark.parametrize("ncol", [1, 7, 384])
def test_v1_mlp_matches_reference(open_model, mlp_v1, v1_x, ncol):
    x = {"x": v1_x[:ncol]}
    want, _ = models.reference(mlp_v1, x)
    model = open_model(mlp_v1)
    assert_bitwise(model.run(x), want)


def test_v1_mlp_repeated_runs_identical(open_model, mlp_v1, v1_x):
    """The TorchScript executor must not change the numbers after its first runs."""
    model = open_model(mlp_v1)
    first = model.run({"x": v1_x})["y"]
    for _ in range(4):
        assert model.run({"x": v1_x})["y"].tobytes() == first.tobytes()


def test_float32_host_arrays(open_model, mlp_v1, v1_x):
    """A float32 host reaches the model without a cast; outputs come back as float32."""
    x32 = v1_x[:7].astype(np.float32)
    want, _ = models.reference(mlp_v1, {"x": x32.astype(np.float64)})
    got = open_model(mlp_v1).run({"x": x32}, out_dtype=np.float32)["y"]
    assert got.dtype == np.float32
    assert got.tobytes() == want["y"].astype(np.float32).tobytes()


def test_multi_io_matches_reference(open_model, multi_io):
    inputs = models.example_inputs(read_manifest(multi_io), 7, seed=3)
    want, _ = models.reference(multi_io, inputs)
    assert_bitwise(open_model(multi_io).run(inputs), want)


def test_float64_model_matches_reference(open_model, float64_model):
    inputs = models.example_inputs(read_manifest(float64_model), 7, seed=4)
    want, _ = models.reference(float64_model, inputs)
    assert_bitwise(open_model(float64_model).run(inputs), want)


def test_recurrent_three_steps_and_state_round_trip(open_model, recurrent):
    ncol = 7
    manifest = read_manifest(recurrent)
    steps = [models.example_inputs(manifest, ncol, seed=s) for s in range(3)]
    model = open_model(recurrent)
    assert not model.get_state("h", ncol).any(), "state must start at zero"
    states = None
    saved = None
    for step, x in enumerate(steps):
        want, states = models.reference(recurrent, x, states)
        assert_bitwise(model.run(x), want)
        got_h = model.get_state("h", ncol)
        assert got_h.shape == (ncol, models.RECURRENT_LAYERS, models.RECURRENT_HIDDEN)
        assert got_h.tobytes() == states["h"].tobytes()
        if step == 0:
            saved = got_h
    # Restart from the state after step 1 (as from a restart file): step 2 again, same bits.
    model.reset_state()
    assert not model.get_state("h", ncol).any()
    model.set_state("h", saved)
    want, _ = models.reference(recurrent, steps[1], {"h": saved})
    assert_bitwise(model.run(steps[1]), want)


def test_no_manifest_with_declarations_matches_reference(open_model, no_manifest):
    path, declared = no_manifest
    inputs = models.example_inputs(declared, 5, seed=5)
    want, _ = models.reference(path, inputs, manifest=declared)
    assert_bitwise(open_model(path, declarations=declared).run(inputs), want)
