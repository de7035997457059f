"""The communicator handed to the engine (hyb_model_set_comm), in a separate process so
this pytest process stays without MPI."""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import sys
    from mpi4py import MPI
    from hybridge.core import HybridgeError, Model
    import torch
    m = Model(sys.argv[1], options={"device": "auto"}, comm=MPI.COMM_WORLD.py2f())
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert m.device() == expected, (m.device(), expected)
    try:
        Model(comm=MPI.COMM_NULL.py2f())
        raise SystemExit("MPI_COMM_NULL was accepted")
    except HybridgeError as e:
        assert e.name == "HYB_ERR_MPI" and "MPI_COMM_NULL" in e.message, e
    print("ok")
""")


def test_auto_device_with_communicator(c_model, mlp_small):
    pytest.importorskip("mpi4py")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(mlp_small)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout + done.stderr
