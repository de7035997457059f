"""Fixtures of the harness tests; helpers live in harness_run.py (a unique module name,
since several test folders have a conftest.py)."""

import pytest
from harness_run import BUILD


@pytest.fixture(scope="session")
def built():
    if not (BUILD / "lib" / "libhybridge.so").exists():
        pytest.skip(f"{BUILD}/lib/libhybridge.so not built (set HYBRIDGE_BUILD to the build folder)")
    if not (BUILD / "modules" / "hybridge.mod").exists():
        pytest.skip(f"{BUILD}/modules/hybridge.mod not built: the f90wrap wrapper needs it")
    return BUILD
