"""batching=node (issue 7): the ranks of a node hand their columns to node rank 0, which
runs them as one batch. Checked under mpirun with 2 and 3 ranks, through the C ABI (cffi):

- with chunk=N the outputs are bit-identical to batching=rank (an uneven decomposition,
  the ClimSim v1 MLP and the recurrent GRU over three steps);
- recurrent state stays per rank in host layout: a state taken from a rank-batching run
  and set into a node-batching model continues bit for bit (restarts ignore the mode);
- run_start / run_finish give the same bits as run, with host work in between;
- NaN on one rank (nonfinite=reject) is an error on every rank naming that rank and the
  column, and the next run works (no rank left inside a collective); so is a failed bind
  on one rank;
- only the owner opens the model file;
- the option needs a communicator.
"""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(r'''
    import sys
    import numpy as np
    from mpi4py import MPI
    from hybridge import core
    from hybridge.core import HybridgeError, Model
    from hybridge.manifest import read_manifest
    from hybridge.testing import models

    mlp_path, recurrent_path, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3])
    comm = MPI.COMM_WORLD
    rank, size = comm.rank, comm.size

    abi = core.lib()

    def same_bits(a, b):
        return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()

    def expect(cond, what):
        if not cond:
            raise SystemExit(f"rank {rank}: {what}")

    # Uneven columns per rank: 11, 30, 49, ... so chunks straddle rank boundaries.
    ncol = [11 + 19 * r for r in range(size)]
    first = sum(ncol[:rank])

    def my_columns(a):
        return a[first:first + ncol[rank]]

    def node_model(path, **options):
        return Model(path, options={"batching": "node", "chunk": chunk, **options},
                     comm=comm.py2f())

    # ---- ClimSim v1 MLP: node == rank, bit for bit; async == sync
    x_all = models.example_inputs(read_manifest(mlp_path), sum(ncol), seed=1)["x"]
    x = np.ascontiguousarray(my_columns(x_all))
    with Model(mlp_path, options={"chunk": chunk}) as m:
        y_rank = m.run({"x": x})["y"]
    with node_model(mlp_path) as m:
        y_node = m.run({"x": x})["y"]
        expect(same_bits(y_node, y_rank), "node batching differs from rank batching (MLP)")
        expect(m.device() == "cpu", f"device {m.device()}")
        y_async = np.empty_like(y_node)
        m.bind("input", "x", x)
        m.bind("output", "y", y_async)
        core.check(abi.hyb_model_run_start(m.handle))
        busy = float(np.sum(np.sin(np.arange(10000.0))))  # the host's own physics
        core.check(abi.hyb_model_run_finish(m.handle))
        expect(same_bits(y_async, y_rank), "run_start/run_finish differs from run (node)")
        # float32 host arrays: each rank casts as it would with rank batching
        y32 = m.run({"x": x.astype(np.float32)}, out_dtype=np.float32)["y"]
    with Model(mlp_path, options={"chunk": chunk}) as m:
        expect(same_bits(y32, m.run({"x": x.astype(np.float32)}, out_dtype=np.float32)["y"]),
               "node batching differs from rank batching with float32 host arrays")

    def expect_last_rank_error(run, status, words, what):
        """run() fails on every rank with `status`, naming the last rank and `words`."""
        try:
            run()
            raise SystemExit(f"rank {rank}: {what} on rank {size - 1} was not reported here")
        except HybridgeError as e:
            expect(e.name == status, e)
            expect(f"rank {size - 1} (node rank {size - 1})" in e.message, e.message)
            expect(words in e.message, e.message)

    # ---- NaN on the last rank: an error on every rank, naming rank and column; then on
    bad = x.copy()
    if rank == size - 1:
        bad[5, 3] = np.nan
    with node_model(mlp_path, nonfinite="reject") as m:
        expect_last_rank_error(lambda: m.run({"x": bad}), "HYB_ERR_NONFINITE", "NaN at column 5", "NaN")
        expect(same_bits(m.run({"x": x})["y"], y_rank), "the run after an error differs")

    # ---- a failed bind on one rank: the collective run fails on every rank, naming it
    with node_model(mlp_path) as m:
        try:
            m.bind("input", "x", x[:, :100].copy() if rank == size - 1 else x)
        except HybridgeError as e:
            expect(rank == size - 1 and e.name == "HYB_ERR_SHAPE", e)
        y = np.empty((ncol[rank], 128))  # alive until the run
        m.bind("output", "y", y)
        expect_last_rank_error(lambda: core.check(abi.hyb_model_run(m.handle)), "HYB_ERR_SHAPE",
                               "a bind before this run failed", "the failed bind")
        expect(same_bits(m.run({"x": x})["y"], y_rank), "the run after a failed bind differs")

    # ---- recurrent GRU: three steps, outputs and state bit for bit; restart across modes
    man = read_manifest(recurrent_path)
    xs = [np.ascontiguousarray(my_columns(models.example_inputs(man, sum(ncol), seed=s)["x"]))
          for s in range(4)]
    with Model(recurrent_path, options={"chunk": chunk}) as r, node_model(recurrent_path) as n:
        for step in range(3):
            yr, yn = r.run({"x": xs[step]})["y"], n.run({"x": xs[step]})["y"]
            expect(same_bits(yr, yn), f"recurrent step {step}: node differs from rank")
        h_rank, h_node = r.get_state("h", ncol[rank]), n.get_state("h", ncol[rank])
        expect(same_bits(h_rank, h_node), "recurrent state differs between modes")
        y_next = r.run({"x": xs[3]})["y"]
    with node_model(recurrent_path) as restarted:
        restarted.set_state("h", h_rank)
        expect(same_bits(restarted.run({"x": xs[3]})["y"], y_next),
               "a rank-batching state set into a node-batching model does not continue bit for bit")

    # ---- a missing model file: every rank gets the owner's error
    try:
        node_model(mlp_path + ".missing")
        raise SystemExit(f"rank {rank}: a missing file was accepted")
    except HybridgeError as e:
        expect(e.name == "HYB_ERR_FILE" and "node rank 0, the device owner" in e.message, e)

    # ---- node batching needs the communicator
    try:
        Model(mlp_path, options={"batching": "node"})
        raise SystemExit(f"rank {rank}: batching=node without a communicator was accepted")
    except HybridgeError as e:
        expect(e.name == "HYB_ERR_ORDER" and "hyb_model_set_comm" in e.message, e)
    comm.Barrier()
    print(f"rank {rank} ok")
''')


def mpirun(nranks, *args, timeout=240):
    pytest.importorskip("mpi4py")
    env = dict(
        os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1"
    )
    cmd = ["mpirun", "--oversubscribe", "-np", str(nranks), sys.executable, *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("nranks", [2, 3])
def test_node_batching_matches_rank_batching(c_model, mlp_v1, recurrent, tmp_path, nranks):
    script = tmp_path / "node_ranks.py"
    script.write_text(SCRIPT)
    done = mpirun(nranks, str(script), str(mlp_v1), str(recurrent), "16")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    for r in range(nranks):
        assert f"rank {r} ok" in done.stdout, out
