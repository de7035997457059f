"""Python access to the hybridge engine through its C ABI (``csrc/include/hybridge.h``).

This goes through exactly the functions a Fortran or C host calls (cffi in ABI mode, the
shared library opened with dlopen), so Python tests exercise the real coupling path::

    from hybridge.core import Model
    with Model("model.pt", options={"chunk": 16}) as m:
        y = m.run({"x": x})["y"]          # x: float64 [ncol, 124] -> y: float64 [ncol, 128]

The library and its header are found by :mod:`hybridge.install` (the installed package,
or ``$HYBRIDGE_LIB`` / ``$HYBRIDGE_BUILD`` for a build tree); cffi reads the declarations
from ``hybridge.h`` itself. :func:`engine_module` imports the pybind11 module
``hybridge_engine`` (the same C++ engine without the C ABI) from a build folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterable, Mapping

import numpy as np

from hybridge import install
from hybridge.manifest import Manifest


def _cdef_text(header: str) -> str:
    """hybridge.h as cffi's cdef takes it: C++ guards, include lines and the header guard
    dropped, integer ``#define``s kept (cffi strips the comments itself)."""
    out, skipping = [], False
    for line in header.splitlines():
        s = line.strip()
        if s.startswith("#"):
            if s.startswith("#ifdef __cplusplus"):
                skipping = True
            elif s.startswith("#endif"):
                skipping = False
            elif re.fullmatch(r"#define\s+HYB_\w+\s+\d+", s):
                out.append(s)
            continue
        if not skipping:
            out.append(line)
    return "\n".join(out)


_ffi = None
_lib = None


def ffi():
    """The cffi FFI object, declared from the C header (hybridge.install.header_path())."""
    global _ffi
    if _ffi is None:
        import cffi

        f = cffi.FFI()
        f.cdef(_cdef_text(install.header_path().read_text()))
        _ffi = f
    return _ffi


def _enum(name: str) -> dict[str, int]:
    return dict(ffi().typeof(f"enum {name}").relements)


def __getattr__(name: str):
    # The C enums, read from the header on first use: STATUS ("HYB_ERR_SHAPE" -> 5),
    # ROLES ("input" -> HYB_INPUT), DTYPES ("float32" -> HYB_FLOAT32), HYB_MAX_NDIM.
    if name == "STATUS":
        return _enum("hyb_status_code")
    if name == "ROLES":
        return {k[len("HYB_") :].lower(): v for k, v in _enum("hyb_role").items()}
    if name == "DTYPES":
        return {k[len("HYB_") :].lower(): v for k, v in _enum("hyb_dtype").items()}
    if name == "HYB_MAX_NDIM":
        return int(lib().HYB_MAX_NDIM)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


HYB_OK = 0


def _code(kind: str, name: str) -> int:
    """The C enum value HYB_<NAME> of a role ("input") or dtype ("float32")."""
    try:
        return int(getattr(lib(), f"HYB_{name.upper()}"))
    except AttributeError:
        raise ValueError(f"unknown {kind} {name!r}") from None


class HybridgeError(RuntimeError):
    """A failed C ABI call: ``status`` (int), ``name`` ("HYB_ERR_SHAPE"), ``message``."""

    def __init__(self, status: int, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.status = status
        self.name = name
        self.message = message


build_dir = install.build_dir
library_path = install.library_path


def lib():
    """The opened libhybridge (dlopen once per process)."""
    global _lib
    if _lib is None:
        _lib = ffi().dlopen(str(library_path()))
    return _lib


def last_error() -> str:
    """This thread's last error message from the C ABI."""
    full = ffi().new("int64_t *")
    lib().hyb_last_error(ffi().NULL, 0, full)
    buf = ffi().new("char[]", int(full[0]) + 1)
    lib().hyb_last_error(buf, len(buf), full)
    return ffi().string(buf).decode()


def check(status: int) -> None:
    """Raise :class:`HybridgeError` for a status other than HYB_OK."""
    if status != HYB_OK:
        name = ffi().string(lib().hyb_status_name(status)).decode()
        raise HybridgeError(status, name, last_error())


def _shape(shape: Iterable[int]):
    return ffi().new("int64_t[]", [int(d) for d in shape] or [0])


_NUMPY_DTYPES = ("float32", "float64", "int32", "int64")


def _dtype_name(code: int) -> str:
    """ "float32" for HYB_FLOAT32, and so on."""
    return {v: k[len("HYB_") :].lower() for k, v in _enum("hyb_dtype").items()}[code]


def _host_dtype(array: np.ndarray, what: str) -> int:
    """The C dtype code of a numpy array; other dtypes are refused here, naming the tensor."""
    if array.dtype.name in _NUMPY_DTYPES:
        return _code("dtype", array.dtype.name)
    raise HybridgeError(
        lib().HYB_ERR_DTYPE,
        "HYB_ERR_DTYPE",
        f"{what}: numpy dtype {array.dtype} is not one of {', '.join(_NUMPY_DTYPES)}",
    )


class Model:
    """One model handle of the C ABI.

    ``Model(path, options={...}, declarations=manifest)`` creates the handle, sets the
    options (before load), declares the tensors of ``declarations`` (a
    :class:`~hybridge.manifest.Manifest`, required for a model file without one) and loads.
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        options: Mapping[str, object] | None = None,
        declarations: Manifest | None = None,
        comm: int | None = None,
    ):
        handle = ffi().new("hyb_model *")
        check(lib().hyb_model_create(handle))
        self.handle = int(handle[0])
        self._freed = False
        for key, value in (options or {}).items():
            self.set_option(key, value)
        if comm is not None:
            self.set_comm(comm)
        if declarations is not None:
            for role, specs in (
                ("input", declarations.inputs),
                ("output", declarations.outputs),
                ("state", declarations.states),
            ):
                for s in specs:
                    self.declare(role, s.name, s.shape, s.dtype, s.batch_axis)
        if path is not None:
            self.load(path)

    # ---- life cycle ----
    def set_option(self, key: str, value: object) -> None:
        """Set one engine option (before load unless ``hybridge.h`` says otherwise)."""
        check(lib().hyb_model_set_option(self.handle, key.encode(), str(value).encode()))

    def set_comm(self, fortran_comm: int) -> None:
        """Communicator as a Fortran handle (mpi4py: ``comm.py2f()``)."""
        check(lib().hyb_model_set_comm(self.handle, int(fortran_comm)))

    def declare(
        self, role: str, name: str, shape: Iterable[int], dtype: str = "float32", batch_axis: int = 0
    ) -> None:
        """Declare a tensor the host expects: per-column ``shape``, model ``dtype``, ``batch_axis``."""
        shape = [int(d) for d in shape]
        check(
            lib().hyb_model_declare(
                self.handle,
                _code("role", role),
                name.encode(),
                _code("dtype", dtype),
                len(shape),
                _shape(shape),
                batch_axis,
            )
        )

    def load(self, path: str | os.PathLike) -> None:
        """Load the model file; its manifest (or the declarations) is checked."""
        check(lib().hyb_model_load(self.handle, os.fsencode(path)))

    def free(self) -> None:
        """Free the handle. A second call reaches the C ABI, which reports the double free."""
        self._freed = True
        check(lib().hyb_model_free(self.handle))

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc) -> None:
        if not self._freed:
            self.free()

    def __del__(self):
        if getattr(self, "_freed", True) or _lib is None:
            return
        with contextlib.suppress(HybridgeError):
            self.free()

    # ---- queries ----
    def manifest_text(self) -> str:
        """The manifest as the engine holds it, JSON text."""
        full = ffi().new("int64_t *")
        check(lib().hyb_model_manifest(self.handle, ffi().NULL, 0, full))
        buf = ffi().new("char[]", int(full[0]) + 1)
        check(lib().hyb_model_manifest(self.handle, buf, len(buf), full))
        return ffi().string(buf).decode()

    def manifest(self) -> Manifest:
        """The manifest as a :class:`~hybridge.manifest.Manifest`."""
        return Manifest.from_json(self.manifest_text())

    def device(self) -> str:
        """The device the model runs on (``"cpu"``, ``"cuda:0"``)."""
        buf = ffi().new("char[]", 64)
        check(lib().hyb_model_device(self.handle, buf, len(buf)))
        return ffi().string(buf).decode()

    def tensors(self, role: str) -> list[dict]:
        """name, per-column shape, dtype and batch_axis of each tensor of a role, in order."""
        n = ffi().new("int *")
        check(lib().hyb_model_count(self.handle, _code("role", role), n))
        out = []
        for i in range(n[0]):
            name = ffi().new("char[]", 256)
            dtype, ndim, axis = ffi().new("int *"), ffi().new("int *"), ffi().new("int *")
            shape = ffi().new("int64_t[]", lib().HYB_MAX_NDIM)
            check(
                lib().hyb_model_tensor_info(
                    self.handle, _code("role", role), i, name, len(name), dtype, ndim, shape, axis
                )
            )
            out.append(
                {
                    "name": ffi().string(name).decode(),
                    "shape": [int(shape[k]) for k in range(ndim[0])],
                    "dtype": _dtype_name(int(dtype[0])),
                    "batch_axis": int(axis[0]),
                }
            )
        return out

    def layout(self, role: str, tensor: str) -> list[tuple[str, int, int]]:
        """(variable, offset, size) along the last axis of a tensor."""
        n = ffi().new("int *")
        check(lib().hyb_model_layout_count(self.handle, _code("role", role), tensor.encode(), n))
        out = []
        for i in range(n[0]):
            var = ffi().new("char[]", 256)
            offset, size = ffi().new("int64_t *"), ffi().new("int64_t *")
            check(
                lib().hyb_model_layout_var(
                    self.handle, _code("role", role), tensor.encode(), i, var, len(var), offset, size
                )
            )
            out.append((ffi().string(var).decode(), int(offset[0]), int(size[0])))
        return out

    # ---- running ----
    def bind(self, role: str, name: str, array: np.ndarray) -> None:
        """Bind a C-contiguous float32/float64 array [ncol, ...]; it must stay alive until run."""
        if not (isinstance(array, np.ndarray) and array.flags.c_contiguous):
            raise ValueError(f"{role} '{name}': bind needs a C-contiguous numpy array")
        dtype = _host_dtype(array, f"{role} '{name}'")
        check(
            lib().hyb_model_bind(
                self.handle,
                _code("role", role),
                name.encode(),
                ffi().cast("void *", array.ctypes.data),
                dtype,
                array.ndim,
                _shape(array.shape),
            )
        )

    def run_bound(self) -> None:
        """Run on the arrays bound with :meth:`bind`; outputs land in the bound arrays."""
        check(lib().hyb_model_run(self.handle))

    def run(self, inputs: Mapping[str, np.ndarray], out_dtype=np.float64) -> dict[str, np.ndarray]:
        """Run on host arrays [ncol, per-column...] (an unbatched tensor: its own shape);
        returns new output arrays, of out_dtype for float outputs and of the model's own type
        for integer ones."""
        # Arrays first, binds after: a failed bind drops the bindings made before it.
        keep = {name: np.ascontiguousarray(a) for name, a in inputs.items()}
        for name, a in keep.items():
            _host_dtype(a, f"input '{name}'")
        batched = {t["name"] for t in self.tensors("input") if t["batch_axis"] != -1}
        ncol = next((a.shape[0] for name, a in keep.items() if name in batched and a.ndim > 0), 1)
        outputs = {}
        for t in self.tensors("output"):
            shape = t["shape"] if t["batch_axis"] == -1 else [ncol, *t["shape"]]
            dtype = out_dtype if t["dtype"].startswith("float") else t["dtype"]
            outputs[t["name"]] = np.empty(shape, dtype=dtype)
        for role, arrays in (("input", keep), ("output", outputs)):
            for name, a in arrays.items():
                self.bind(role, name, a)
        self.run_bound()  # names any input or output left unbound
        return outputs

    def get_state(self, name: str, ncol: int, dtype=np.float64) -> np.ndarray:
        """Recurrent state ``name`` in host layout [ncol, per-column...]."""
        spec = next((t for t in self.tensors("state") if t["name"] == name), None)
        shape = [ncol, *(spec["shape"] if spec else [])]
        out = np.zeros(shape, dtype=dtype)
        check(
            lib().hyb_model_get_state(
                self.handle,
                name.encode(),
                ffi().cast("void *", out.ctypes.data),
                _host_dtype(out, f"state '{name}'"),
                out.ndim,
                _shape(out.shape),
            )
        )
        return out

    def set_state(self, name: str, value: np.ndarray) -> None:
        """Set recurrent state ``name`` from host layout ``[ncol, per-column...]``."""
        value = np.ascontiguousarray(value)
        check(
            lib().hyb_model_set_state(
                self.handle,
                name.encode(),
                ffi().cast("void *", value.ctypes.data),
                _host_dtype(value, f"state '{name}'"),
                value.ndim,
                _shape(value.shape),
            )
        )

    def reset_state(self) -> None:
        """Drop every recurrent state; the next run starts from zeros."""
        check(lib().hyb_model_reset_state(self.handle))

    def guard_columns(self, ncol: int) -> tuple[np.ndarray, np.ndarray]:
        """The guard's report of the last run (option ``guard``): per column, the first input
        and the first output value out of the training range (flat index, -1 = within)."""
        first_in, first_out = np.empty(ncol, np.int64), np.empty(ncol, np.int64)
        check(
            lib().hyb_model_guard_columns(
                self.handle,
                ncol,
                ffi().cast("int64_t *", first_in.ctypes.data),
                ffi().cast("int64_t *", first_out.ctypes.data),
            )
        )
        return first_in, first_out

    def nonfinite_count(self) -> int:
        """Number of NaN/Inf input values passed through so far (``nonfinite=pass``)."""
        n = ffi().new("int64_t *")
        check(lib().hyb_model_nonfinite_count(self.handle, n))
        return int(n[0])


def engine_module():
    """Import the pybind11 module ``hybridge_engine`` from ``$HYBRIDGE_BUILD/python``."""
    folder = build_dir() / "python"
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    try:
        import hybridge_engine
    except ImportError as e:
        raise ImportError(
            f"hybridge_engine (pybind11) not importable from {folder}: {e}; "
            "build with HYBRIDGE_BUILD_PYTHON=ON"
        ) from e
    return hybridge_engine
