"""Python access to the Fortran side through f90wrap: the hybridge Fortran API (layer
``fortran``) and the host model's emulator coupling, physics_ml (layer ``host-driver``).

Wrapped are plain-procedure shims in ``fortran/f90wrap/``: ``verify_api.f90`` over the real
API (``hyb_load``, ``hyb_bind_input``, ``hyb_bind_output``, ``hyb_run``, ``hyb_get_state``,
``hyb_set_state``), and ``verify_host.f90`` over ``physics_ml`` (``ml_init``,
``ml_physics``, ``ml_get_state``, ``ml_set_state``), compiled with the host's own sources.
:func:`build_wrapper` compiles one of them against the ``hybridge.mod`` and
``libhybridge.so`` of the build folder into ``<build>/verify/f90wrap/<name>`` (again when
a source or the library is newer), with the kind map NumPy 2 needs (real64 -> double).
"""

from __future__ import annotations

import ctypes
import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybridge.core import build_dir, library_path
from hybridge.manifest import read_manifest

_REPO = Path(__file__).resolve().parents[3]
_SHIMS = _REPO / "fortran" / "f90wrap"
_HOST = _REPO / "fortran" / "host"


@dataclass(frozen=True)
class Wrapper:
    module: str  # Python module f90wrap writes
    sources: tuple[Path, ...]  # compiled in this order (module dependencies first)
    wrapped: Path  # the one file f90wrap reads
    compiler: str  # gfortran, or mpif90 for sources that use MPI
    mpi: bool = False  # link the MPI Fortran libraries


WRAPPERS = {
    "api": Wrapper(
        "hybridge_verify_fortran",
        (_SHIMS / "verify_store.f90", _SHIMS / "verify_api.f90"),
        _SHIMS / "verify_api.f90",
        "gfortran",
    ),
    "host": Wrapper(
        "hybridge_verify_host",
        (
            *(
                _HOST / f"{m}.f90"
                for m in (
                    "host_constants",
                    "host_calendar",
                    "host_namelist",
                    "physics_types",
                    "host_abort",
                    "physics_ml",
                )
            ),
            _SHIMS / "verify_host.f90",
        ),
        _SHIMS / "verify_host.f90",
        "mpif90",
        mpi=True,
    ),
}

# f90wrap 0.3 maps kinds through this table; without it real(real64) arrays are taken as
# 4-byte reals under NumPy 2. r8 is the host model's name for real64.
KIND_MAP = """{'real': {'': 'float', 'real32': 'float', 'real64': 'double', 'r8': 'double',
          '4': 'float', '8': 'double'},
 'integer': {'': 'int', 'int32': 'int', 'int64': 'long_long', '4': 'int', '8': 'long_long'},
 'character': {'': 'char'}, 'logical': {'': 'int'}}
"""


def wrapper_dir(name: str) -> Path:
    return build_dir() / "verify" / "f90wrap" / name


def _stale(w: Wrapper, outdir: Path) -> bool:
    built = list(outdir.glob(f"_{w.module}*.so"))
    if not built or not (outdir / f"{w.module}.py").exists():
        return True
    newest_input = max(p.stat().st_mtime for p in [*w.sources, library_path()])
    return built[0].stat().st_mtime < newest_input


def _run(cmd: list, cwd: Path, log: Path) -> str:
    # f2py builds with meson, installed next to this Python: put its folder on PATH.
    env = dict(
        os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    with open(log, "a") as f:
        f.write("$ " + " ".join(str(c) for c in cmd) + "\n")
        f.flush()
        proc = subprocess.run(
            [str(c) for c in cmd],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        f.write(proc.stdout)
    if proc.returncode != 0:
        raise RuntimeError(
            f"building the f90wrap wrapper failed in step '{Path(cmd[0]).name}' "
            f"(exit {proc.returncode}); see {log}"
        )
    return proc.stdout


def _mpi_link_flags() -> list[str]:
    """-L/-l flags of the MPI Fortran bindings. meson (under f2py) refuses library names with
    '-', and libmpi pulls in its own dependencies, so only the mpi* libraries are named."""
    words = _run(["mpif90", "--showme:link"], Path.cwd(), Path(os.devnull)).split()
    return [w for w in words if w.startswith(("-L", "-lmpi"))]


def build_wrapper(name: str, force: bool = False) -> Path:
    """Compile wrapper ``name`` (a key of WRAPPERS) into :func:`wrapper_dir`; return it.

    Not safe to run from several processes at once: under MPI, rank 0 builds, the others
    wait (hybridge.verify.__main__).
    """
    w = WRAPPERS[name]
    outdir = wrapper_dir(name)
    if not force and not _stale(w, outdir):
        return outdir
    missing = [str(p) for p in w.sources if not p.exists()]
    if missing:
        raise FileNotFoundError(f"f90wrap wrapper '{name}': sources missing: {', '.join(missing)}")
    modules = build_dir() / "modules"
    if not (modules / "hybridge.mod").exists():
        raise FileNotFoundError(
            f"{modules / 'hybridge.mod'} not found: build hybridge first (make build) or set HYBRIDGE_BUILD"
        )
    lib = library_path()
    bindir = Path(sys.executable).parent
    tmp = outdir.with_name(outdir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log = tmp / "build.log"
    (tmp / "kind_map").write_text(KIND_MAP)
    objects = []
    for src in w.sources:
        obj = tmp / (src.stem + ".o")
        _run(
            [
                w.compiler,
                "-O2",
                "-fPIC",
                "-ffree-line-length-none",
                "-c",
                src,
                "-o",
                obj,
                "-I",
                modules,
                "-J",
                tmp,
            ],
            tmp,
            log,
        )
        objects.append(obj)
    _run([bindir / "f90wrap", "-m", w.module, "-k", "kind_map", w.wrapped], tmp, log)
    _run(
        [
            bindir / "f2py-f90wrap",
            "-c",
            "-m",
            f"_{w.module}",
            f"f90wrap_{w.wrapped.stem}.f90",
            *objects,
            f"-I{tmp}",
            f"-I{modules}",
            f"-L{lib.parent}",
            "-lhybridge",
            *(_mpi_link_flags() if w.mpi else []),
        ],
        tmp,
        log,
    )
    shutil.rmtree(outdir, ignore_errors=True)
    os.replace(tmp, outdir)
    return outdir


def import_wrapper(name: str):
    """The f90wrap module object of wrapper ``name`` (build it first with build_wrapper)."""
    # The extension links libhybridge by name only: load it from the build folder first.
    ctypes.CDLL(str(library_path()), mode=ctypes.RTLD_GLOBAL)
    folder = str(wrapper_dir(name))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module = importlib.import_module(WRAPPERS[name].module)
    return module.verify_api if name == "api" else module.verify_host


class FortranError(RuntimeError):
    """A failed call through the Fortran side: ``stat`` (the C status code) and message."""

    def __init__(self, stat: int, message: str):
        super().__init__(f"Fortran status {stat}: {message}")
        self.stat = stat


def _text(errmsg) -> str:
    return (errmsg.decode(errors="replace") if isinstance(errmsg, bytes) else errmsg).strip()


def _check(result):
    stat, errmsg = result[-2], result[-1]
    if stat != 0:
        raise FortranError(stat, _text(errmsg))
    return result[0] if len(result) > 2 else None


class FortranModel:
    """A model loaded through the Fortran API on this process, with the interface of
    :class:`hybridge.core.Model` that the harness uses: ``run``, ``get_state``,
    ``set_state``, ``set_option``, ``free``. Host arrays are float64 ``[ncol, ...]``."""

    def __init__(self, path, options: Mapping[str, object] | None = None):
        self._api = import_wrapper("api")
        text = ";".join(f"{k}={v}" for k, v in (options or {}).items())
        self.slot = _check(self._api.va_load(os.fspath(path), text))
        manifest = read_manifest(path)
        self._outputs = {s.name: list(s.shape) for s in manifest.outputs}
        self._states = {s.name: list(s.shape) for s in manifest.states}

    def set_option(self, key: str, value: object) -> None:
        _check(self._api.va_set_option(self.slot, key, str(value)))

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        ncol = 0
        for name, x in inputs.items():
            x = np.asarray(x, dtype=np.float64)
            ncol = x.shape[0]
            # [ncol, d1, d2] C order is the Fortran array x(d2*d1, ncol): no reordering.
            _check(self._api.va_set_input(self.slot, name, x.reshape(ncol, -1).T))
        _check(self._api.va_run(self.slot, ncol))
        out = {}
        for name, shape in self._outputs.items():
            y = np.zeros((int(np.prod(shape)), ncol), order="F")
            _check(self._api.va_get_output(self.slot, name, y))
            out[name] = np.ascontiguousarray(y.T).reshape(ncol, *shape)
        return out

    def get_state(self, name: str, ncol: int) -> np.ndarray:
        shape = self._states[name]
        h = np.zeros((int(np.prod(shape)), ncol), order="F")
        _check(self._api.va_get_state(self.slot, name, h))
        return np.ascontiguousarray(h.T).reshape(ncol, *shape)

    def set_state(self, name: str, value: np.ndarray) -> None:
        value = np.asarray(value, dtype=np.float64)
        h = np.asfortranarray(value.reshape(value.shape[0], -1).T)
        _check(self._api.va_set_state(self.slot, name, h))

    def free(self) -> None:
        _check(self._api.va_free(self.slot))


class HostDriverModel:
    """The host model's physics_ml on this process, for a model in the ClimSim v1 layout
    (one input ``x`` [124], one output ``y`` [128], optional recurrent states): ``run``
    splits x into the state fields hybridge-host hands to ml_physics and joins ptend_t,
    ptend_q0001 and cam_out back into y. physics_ml holds one emulator per process and
    cannot be initialised twice, so one instance per process."""

    _used = False

    def __init__(self, path, options: Mapping[str, object] | None = None):
        if HostDriverModel._used:
            raise RuntimeError(
                "physics_ml holds one emulator per process; the host-driver "
                "layer can be opened once per harness process"
            )
        HostDriverModel._used = True
        self._host = import_wrapper("host")
        self._path = os.fspath(path)
        self._options = dict(options or {})
        manifest = read_manifest(path)
        if [s.name for s in manifest.inputs] != ["x"] or [s.shape for s in manifest.inputs] != [[124]]:
            raise ValueError(f"{path}: the host-driver layer takes ClimSim v1 models (x [124] -> y [128])")
        self._states = {s.name: list(s.shape) for s in manifest.states}
        self._ncol = None

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = np.asarray(inputs["x"], dtype=np.float64)
        ncol = x.shape[0]
        if self._ncol is None:
            self._host.vh_ml_init(
                self._path, int(self._options.get("chunk", 0)), int(self._options.get("threads", 1)), ncol
            )
            self._ncol = ncol
        t = np.asfortranarray(x[:, :60].T)
        q = np.asfortranarray(x[:, 60:120].T)
        ps, solin, lhflx, shflx = (np.ascontiguousarray(x[:, 120 + i]) for i in range(4))
        ptend_t = np.zeros((60, ncol), order="F")
        ptend_q = np.zeros((60, ncol), order="F")
        cam_out = np.zeros((8, ncol), order="F")
        col_ok = np.zeros(ncol, dtype=np.int32)
        ok, errmsg = self._host.vh_ml_physics(
            t, q, ps, solin, lhflx, shflx, ptend_t, ptend_q, cam_out, col_ok
        )
        if not ok:
            raise FortranError(1, _text(errmsg))
        return {"y": np.concatenate([ptend_t.T, ptend_q.T, cam_out.T], axis=1)}

    def _flat_state(self, ncol: int) -> np.ndarray:
        return np.zeros((self._host.vh_ml_state_size(), ncol), order="F")

    def get_state(self, name: str, ncol: int) -> np.ndarray:
        """State ``name`` out of ml_get_state's buffer (the states one after the other)."""
        buf = self._flat_state(ncol)
        self._host.vh_ml_get_state(buf)
        offset = 0
        for other, shape in self._states.items():
            size = int(np.prod(shape))
            if other == name:
                return np.ascontiguousarray(buf[offset : offset + size].T).reshape(ncol, *shape)
            offset += size
        raise KeyError(f"the model has no recurrent state '{name}'")

    def set_state(self, name: str, value: np.ndarray) -> None:
        """Replace state ``name`` in ml_set_state's buffer, as a restart does."""
        value = np.asarray(value, dtype=np.float64)
        ncol = value.shape[0]
        buf = self._flat_state(ncol)
        self._host.vh_ml_get_state(buf)
        offset = 0
        for other, shape in self._states.items():
            size = int(np.prod(shape))
            if other == name:
                buf[offset : offset + size] = value.reshape(ncol, size).T
                self._host.vh_ml_set_state(buf)
                return
            offset += size
        raise KeyError(f"the model has no recurrent state '{name}'")

    def free(self) -> None:
        if self._ncol is not None:
            self._host.vh_ml_finalize()
