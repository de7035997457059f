"""Fixtures for the engine tests: model files made at test time, and the engine reached
two ways (the C ABI through cffi, and the pybind11 module) behind one small interface.

The build is found through $HYBRIDGE_BUILD (``make test`` sets it and builds first); the
tests skip, saying why, only when the library has not been built.
"""

from __future__ import annotations

import numpy as np
import pytest

from hybridge import core
from hybridge.core import HybridgeError
from hybridge.manifest import read_manifest
from hybridge.testing import models


def _require_library():
    try:
        core.library_path()
    except FileNotFoundError as e:
        pytest.skip(f"engine not built: {e}")


def _require_engine_module():
    try:
        return core.engine_module()
    except ImportError as e:
        pytest.skip(f"pybind11 engine module not built: {e}")


class PybindModel:
    """The pybind11 engine behind the same methods as hybridge.core.Model."""

    def __init__(self, path=None, *, options=None, declarations=None):
        self._mod = _require_engine_module()
        self._engine = self._mod.Engine()
        with self._errors():
            for key, value in (options or {}).items():
                self._engine.set_option(key, str(value))
            if declarations is not None:
                for role, specs in (
                    ("input", declarations.inputs),
                    ("output", declarations.outputs),
                    ("state", declarations.states),
                ):
                    for s in specs:
                        self._engine.declare(role, s.name, s.shape, s.dtype, s.batch_axis)
            if path is not None:
                self._engine.load(str(path))

    def _errors(self):
        mod = self._mod

        class Translate:
            def __enter__(self):
                return self

            def __exit__(self, kind, exc, tb):
                if isinstance(exc, mod.EngineError):
                    raise HybridgeError(*exc.args) from exc
                return False

        return Translate()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def run(self, inputs, out_dtype=np.float64):
        with self._errors():
            return self._engine.run(dict(inputs), np.dtype(out_dtype).name)

    def get_state(self, name, ncol):
        with self._errors():
            return self._engine.get_state(name, ncol)

    def set_state(self, name, value):
        with self._errors():
            self._engine.set_state(name, value)

    def reset_state(self):
        with self._errors():
            self._engine.reset_state()

    def nonfinite_count(self):
        return self._engine.nonfinite_count()

    def set_option(self, key, value):
        with self._errors():
            self._engine.set_option(key, str(value))


@pytest.fixture(params=["cffi", "pybind"])
def open_model(request):
    """open_model(path, options=..., declarations=...) through the C ABI or pybind11."""
    if request.param == "cffi":
        _require_library()
        return core.Model
    _require_engine_module()
    return PybindModel


@pytest.fixture
def c_model():
    """Through the C ABI only (for handle, query and thread tests)."""
    _require_library()
    return core.Model


@pytest.fixture
def abi(c_model):
    """(ffi, lib): the C ABI as hybridge.core declares it."""
    return core.ffi(), core.lib()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def mlp_v1(model_dir):
    """The benchmark-size ClimSim v1 MLP (4 x 512)."""
    path = model_dir / "mlp_v1.pt"
    models.make_mlp_v1(path)
    return path


@pytest.fixture(scope="session")
def mlp_small(model_dir):
    """A ClimSim v1-shaped MLP with one hidden layer of 32, for error tests."""
    path = model_dir / "mlp_small.pt"
    models.make_mlp_v1(path, hidden=(32,))
    return path


@pytest.fixture(scope="session")
def multi_io(model_dir):
    path = model_dir / "multi_io.pt"
    models.make_multi_io(path)
    return path


@pytest.fixture(scope="session")
def recurrent(model_dir):
    path = model_dir / "recurrent.pt"
    models.make_recurrent(path)
    return path


@pytest.fixture(scope="session")
def float64_model(model_dir):
    path = model_dir / "float64.pt"
    models.make_float64(path)
    return path


@pytest.fixture(scope="session")
def no_manifest(model_dir):
    """(path, the declarations it needs)."""
    path = model_dir / "no_manifest.pt"
    return path, models.make_no_manifest(path)


@pytest.fixture(scope="session")
def v1_x(mlp_v1):
    """384 ClimSim-like columns [384, 124], float64."""
    return models.example_inputs(read_manifest(mlp_v1), 384, seed=0)["x"]
