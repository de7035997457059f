"""``hybridge config``: what a foreign build needs to compile and link against hybridge.

For a Makefile-built model (CIME Macros, mkmf, hand-written makefiles)::

    FFLAGS  += $(shell hybridge config --fflags)
    LDLIBS  += $(shell hybridge config --libs)

or ``pkg-config --cflags --libs hybridge`` with ``PKG_CONFIG_PATH=$(hybridge config
--pkgconfig-dir)``; for CMake, ``-Dhybridge_DIR=$(hybridge config --cmake-dir)``. The paths
are those of the install that :mod:`hybridge.install` finds (the pip-installed package first).
"""

from __future__ import annotations

import argparse

from hybridge import install

QUERIES = {
    "prefix": ("the install prefix", lambda: str(install.prefix())),
    "fflags": ("Fortran compile flags: the folder of hybridge.mod", install.compile_flags),
    "cflags": ("C/C++ compile flags: the folder of hybridge.h", install.compile_flags),
    "libs": ("link flags, with a run path to libhybridge", install.link_flags),
    "cmake-dir": ("the folder for -Dhybridge_DIR (find_package(hybridge))", lambda: str(install.cmake_dir())),
    "pkgconfig-dir": ("the folder of hybridge.pc, for PKG_CONFIG_PATH", lambda: str(install.pkgconfig_dir())),
    "library": ("the path of libhybridge.so", lambda: str(install.library_path())),
    "host": ("the path of the hybridge-host executable", lambda: str(install.host_executable())),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    for name, (help_text, _) in QUERIES.items():
        p.add_argument(f"--{name}", action="append_const", const=name, dest="queries", help=help_text)


def run(args: argparse.Namespace) -> int:
    """Print each asked value on one line, in the order given; all of them, named, with none."""
    if not args.queries:
        for name, (_, value) in QUERIES.items():
            print(f"{name:14s} {value()}")
        return 0
    for name in args.queries:
        print(QUERIES[name][1]())
    return 0
