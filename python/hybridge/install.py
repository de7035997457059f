"""Where the compiled half of hybridge is: ``libhybridge``, its C header, the Fortran
module, the CMake and pkg-config files, ``hybridge-host``.

Looked for in this order (the first that has the file wins):

1. an explicit environment variable: ``$HYBRIDGE_LIB`` (the library file),
   ``$HYBRIDGE_HOST`` (the executable), ``$HYBRIDGE_BUILD`` (a CMake build folder: what
   ``make test`` sets, so the tests run the tree they built);
2. the files installed with the Python package (``pip install .`` builds the engine and puts
   its install tree inside the package: ``hybridge/lib``, ``hybridge/include/hybridge``,
   ``hybridge/bin``, ``hybridge/share``), found through the package's own installed-file
   record, so an editable install works too;
3. ``$HYBRIDGE_PREFIX`` (a ``cmake --install`` prefix), then ``<checkout>/install`` and
   ``<checkout>/build`` when this package runs from a source checkout.

Nothing here needs an environment variable: a ``pip install`` finds its own files.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from pathlib import Path

LIBRARY = "libhybridge.so"
_CHECKOUT = Path(__file__).resolve().parents[2]  # python/hybridge/install.py -> checkout root


class NotInstalledError(FileNotFoundError):
    """A compiled part of hybridge is nowhere to be found; the message names the places."""


@functools.lru_cache(maxsize=1)
def package_prefix() -> Path | None:
    """The install tree inside the installed Python package (``.../site-packages/hybridge``),
    or None when the package was installed without the engine or runs from a checkout."""
    try:
        files = importlib.metadata.files("hybridge") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.as_posix().endswith("lib/cmake/hybridge/hybridgeConfig.cmake"):
            config = Path(f.locate()).resolve()
            if config.is_file():
                return config.parents[3]
    return None


def _prefixes() -> list[Path]:
    """Install prefixes, most specific first (package, $HYBRIDGE_PREFIX, <checkout>/install)."""
    found = [p for p in (package_prefix(),) if p is not None]
    if os.environ.get("HYBRIDGE_PREFIX"):
        found.append(Path(os.environ["HYBRIDGE_PREFIX"]))
    found.append(_CHECKOUT / "install")
    return found


def build_dir() -> Path:
    """A CMake build folder of this checkout: ``$HYBRIDGE_BUILD``, else ``<checkout>/build``."""
    return Path(os.environ.get("HYBRIDGE_BUILD") or _CHECKOUT / "build")


def _first(candidates: list[Path], what: str, hint: str) -> Path:
    for c in candidates:
        if c.is_file():
            return c
    raise NotInstalledError(f"{what} not found; looked at " + ", ".join(map(str, candidates)) + f" ({hint})")


_BUILD_HINT = (
    "install the package with `pip install --no-build-isolation .`, or build a checkout with `make build`"
)


def library_path() -> Path:
    """libhybridge.so (NotInstalledError naming the places looked at)."""
    candidates = [Path(os.environ["HYBRIDGE_LIB"])] if os.environ.get("HYBRIDGE_LIB") else []
    if os.environ.get("HYBRIDGE_BUILD"):
        candidates.append(build_dir() / "lib" / LIBRARY)
    candidates += [p / "lib" / LIBRARY for p in _prefixes()]
    candidates.append(build_dir() / "lib" / LIBRARY)
    return _first(list(dict.fromkeys(candidates)), LIBRARY, _BUILD_HINT + ", or set HYBRIDGE_LIB")


def header_path() -> Path:
    """hybridge.h, the C ABI: installed beside the library, else the checkout's copy."""
    candidates = [p / "include" / "hybridge" / "hybridge.h" for p in _prefixes()]
    candidates.append(_CHECKOUT / "csrc" / "include" / "hybridge.h")
    return _first(candidates, "hybridge.h", _BUILD_HINT)


def host_executable() -> Path:
    """hybridge-host: ``$HYBRIDGE_HOST``, the build folder when ``$HYBRIDGE_BUILD`` is set,
    the installed package, an install prefix, ``<checkout>/build``."""
    if os.environ.get("HYBRIDGE_HOST"):
        candidates = [Path(os.environ["HYBRIDGE_HOST"])]
    else:
        candidates = [build_dir() / "bin" / "hybridge-host"] if os.environ.get("HYBRIDGE_BUILD") else []
        candidates += [p / "bin" / "hybridge-host" for p in _prefixes()]
        candidates.append(build_dir() / "bin" / "hybridge-host")
    for c in dict.fromkeys(candidates):
        if c.is_file() and os.access(c, os.X_OK):
            return c
    raise NotInstalledError(
        "hybridge-host not found; looked at "
        + ", ".join(map(str, candidates))
        + f" ({_BUILD_HINT}, or set HYBRIDGE_HOST)"
    )


def prefix() -> Path:
    """The install prefix a foreign build links against (the one holding the CMake package)."""
    config = _first(
        [p / "lib" / "cmake" / "hybridge" / "hybridgeConfig.cmake" for p in _prefixes()],
        "the hybridge CMake package",
        _BUILD_HINT,
    )
    return config.parents[3]


def cmake_dir() -> Path:
    """Folder of hybridgeConfig.cmake: ``-Dhybridge_DIR=...`` for find_package(hybridge)."""
    return prefix() / "lib" / "cmake" / "hybridge"


def pkgconfig_dir() -> Path:
    """Folder of hybridge.pc: ``PKG_CONFIG_PATH=...``."""
    return prefix() / "lib" / "pkgconfig"


def include_dir() -> Path:
    """Folder of hybridge.h and the Fortran module files (hybridge.mod)."""
    return prefix() / "include" / "hybridge"


def compile_flags() -> str:
    """Flags to compile a Fortran or C source that uses hybridge (the module/header folder)."""
    return f"-I{include_dir()}"


def link_flags() -> str:
    """Flags to link a program against libhybridge, with a run path so it runs as built."""
    lib = prefix() / "lib"
    return f"-L{lib} -Wl,-rpath,{lib} -lhybridge"
