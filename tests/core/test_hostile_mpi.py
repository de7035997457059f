"""Ranks that disagree, ranks that never call, calls after MPI_Finalize (issue 12), under
mpirun with 2 ranks through the C ABI. Every case: each rank's status and message, and no
rank waits forever (every run has a timeout well below the engine's own bound).
"""

import os
import subprocess
import sys
import textwrap

import pytest

from hybridge.testing import models

SCRIPT = textwrap.dedent(r'''
    import sys
    import numpy as np
    from mpi4py import MPI
    from hybridge.core import HybridgeError, Model

    case, model_a, model_b, out = sys.argv[1:5]
    comm = MPI.COMM_WORLD
    rank = comm.rank
    x = np.zeros((3, 124))

    def report(fn):
        """Each rank's verdict in a file of its own (mpirun interleaves the ranks' output)."""
        try:
            fn()
            verdict = "OK"
        except HybridgeError as e:
            verdict = f"{e.name}: {e.message}"
        with open(f"{out}.{rank}", "w") as f:
            f.write(verdict)

    def load(path, **options):
        return Model(path, options=options, comm=comm.py2f())

    if case == "chunk_differs":
        report(lambda: load(model_a, chunk=16 if rank == 0 else 32))
    elif case == "file_differs":
        report(lambda: load(model_a if rank == 0 else model_b))
    elif case == "batching_differs":
        report(lambda: load(model_a, batching="node" if rank == 0 else "rank"))
    elif case == "agree":
        report(lambda: load(model_a, chunk=16).run({"x": x}))
    elif case == "freed_model_runs":
        m = load(model_a, batching="node", chunk=4, node_timeout=3)
        if rank == 1:
            m.free()
        report(lambda: m.run({"x": x}))
    elif case == "after_finalize":
        m = load(model_a, batching="node", chunk=4)
        m.run({"x": x})
        MPI.Finalize()
        report(lambda: m.run({"x": x}))
''')


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("mpi_models")
    a, b = d / "a.pt", d / "b.pt"
    models.make_mlp_v1(a, hidden=(16,), seed=0)
    models.make_mlp_v1(b, hidden=(16,), seed=1)
    return a, b


def _mpirun(tmp_path, case, a, b, timeout=90):
    script, out = tmp_path / "hostile_mpi.py", tmp_path / "verdict"
    script.write_text(SCRIPT)
    env = dict(
        os.environ,
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
    )
    proc = subprocess.run(
        ["mpirun", "-n", "2", sys.executable, str(script), case, str(a), str(b), str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    lines = {r: p.read_text() for r in (0, 1) if (p := tmp_path / f"verdict.{r}").exists()}
    assert set(lines) == {0, 1}, proc.stdout + proc.stderr
    return lines


@pytest.mark.parametrize(
    "case, words",
    [
        ("chunk_differs", ["ranks loading this model disagree", "chunk=16", "rank 1 has", "chunk=32"]),
        ("file_differs", ["disagree", "file a.pt sha256:", "file b.pt sha256:"]),
        ("batching_differs", ["disagree", "batching=node", "batching=rank"]),
    ],
)
def test_ranks_that_disagree_at_load_fail_together(tmp_path, two_models, case, words):
    lines = _mpirun(tmp_path, case, *two_models)
    for r in (0, 1):
        assert lines[r].startswith("HYB_ERR_MANIFEST"), lines
        for w in words:
            assert w in lines[r], (w, lines[r])


def test_ranks_that_agree_load_and_run(tmp_path, two_models):
    assert _mpirun(tmp_path, "agree", *two_models) == {0: "OK", 1: "OK"}


def test_a_rank_that_freed_its_model_leaves_no_rank_waiting(tmp_path, two_models):
    lines = _mpirun(tmp_path, "freed_model_runs", *two_models)
    assert lines[1].startswith("HYB_ERR_HANDLE") and "freed" in lines[1], lines
    assert lines[0].startswith("HYB_ERR_MPI") and "within 3 s" in lines[0] and "node_timeout" in lines[0], (
        lines
    )


def test_a_run_after_mpi_finalize_is_an_error(tmp_path, two_models):
    lines = _mpirun(tmp_path, "after_finalize", *two_models)
    for r in (0, 1):
        assert lines[r].startswith("HYB_ERR_MPI") and "MPI_Finalize" in lines[r], lines
