"""libhybridge exports the C ABI of hybridge.h and the Fortran module's procedures, and
nothing else (cmake/hybridge.map): no libstdc++ or libtorch template a host could bind to
by accident."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hybridge import core

HEADER = Path(__file__).resolve().parents[2] / "csrc" / "include" / "hybridge.h"


def exported() -> set[str]:
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) not installed")
    try:
        lib = core.library_path()
    except FileNotFoundError as e:
        pytest.skip(f"engine not built: {e}")
    out = subprocess.run(
        [nm, "-D", "--defined-only", str(lib)], capture_output=True, text=True, check=True
    ).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def test_only_the_c_abi_and_the_fortran_module_are_exported():
    names = exported()
    others = sorted(n for n in names if not (n.startswith(("hyb_", "__hybridge_MOD_"))))
    assert not others, f"{len(others)} other symbols exported, e.g. {others[:5]}"


def test_every_function_of_the_header_is_exported():
    declared = set(re.findall(r"\b(hyb_\w+)\s*\(", HEADER.read_text()))
    missing = declared - exported()
    assert not missing, f"declared in hybridge.h but not exported: {sorted(missing)}"
