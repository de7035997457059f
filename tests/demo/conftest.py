"""Shared fixtures of the demo and ensemble tests: the hybridge-host executable (built with
the hybridge library) and one output folder whose reference run the tests share."""

import os
import subprocess
from pathlib import Path

import pytest

from hybridge.online.host import HostError, find_host

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("HYBRIDGE_BUILD", str(REPO / "build"))

# Tiny sizes: 18 training steps, 9 hybrid steps, output every 3 steps.
TINY_REFERENCE = {
    "train_days": 0.25,
    "hybrid_days": 0.125,
    "train_interval": 1,
    "output_interval": 3,
    "ranks": 2,
}


@pytest.fixture(scope="session")
def host_with_ml(tmp_path_factory) -> Path:
    try:
        host = find_host()
    except HostError as e:
        pytest.skip(str(e))
    d = tmp_path_factory.mktemp("probe")
    (d / "atm_in").write_text("&hybridge_nl\n physics_mode = 'ml'\n model_path = 'none.pt'\n stop_n = 1\n/\n")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    proc = subprocess.run(
        ["mpirun", "-n", "1", str(host), "atm_in"],
        cwd=d,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "built without" in proc.stderr:
        pytest.skip("hybridge-host was built without the hybridge library")
    return host


@pytest.fixture(scope="session")
def shared_out(tmp_path_factory) -> Path:
    """One folder for the demo and the ensemble test, so that they share the reference run."""
    return tmp_path_factory.mktemp("online")
