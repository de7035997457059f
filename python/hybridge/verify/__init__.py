"""Bit-level coupling harness: proves, byte for byte, that the Fortran-coupled emulator
computes what the emulator computes in Python, on any decomposition, restart and thread
count (docs/verify.md).

Launch ``mpirun -n N python -m hybridge.verify`` (or ``hybridge verify --ranks N``). Rows,
named as in CIME's system tests:

PYREF   every rank's outputs through the Fortran API (f90wrap), the C ABI (cffi) and the
        engine (pybind11) == ``torch.jit.load`` in Python on the gathered inputs, same casts:
        ClimSim v1 MLP, a multi-input/-output model, a recurrent GRU over several steps.
REP     two identical host-model runs in ML mode.
ERS     straight vs stopped, restarted and continued, recurrent state included
        (through the Fortran API, and with the host model's restart files).
PEM     1..N ranks identical with reproducible batching (chunk=N); without it, measured.
PET     1 vs 2 threads, chunked (must match) and unchunked (measured).
NODE    node batching (columns gathered to the node's device owner) == rank batching.

Modules: :mod:`.compare` (byte comparison, ulps, first rank/column/variable),
:mod:`.fortran` (f90wrap wrapper build and access), :mod:`.api_rows` and :mod:`.host_rows`
(the rows), :mod:`.matrix` (rows and table), :mod:`.command` (``hybridge verify``).
"""
