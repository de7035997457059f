"""Bit-level coupling harness: proves, byte for byte, that the Fortran-coupled emulator
computes what the emulator computes in Python, on any decomposition, restart and thread
count (docs/verify.md).

Launch ``mpirun -n N python -m hybridge.verify`` (or ``hybridge verify --ranks N``). Rows,
named as in CIME's system tests:

PYREF   every rank's outputs through the Fortran API (f90wrap), the C ABI (cffi) and the
        engine (pybind11) == the file loaded in Python (``torch.jit.load``, or
        ``torch._inductor.aoti_load_package`` with ``--format pt2``) on the gathered inputs,
        same casts: ClimSim v1 MLP, a multi-input/-output model, a recurrent GRU over
        several steps.
REP     two identical host-model runs in ML mode.
ERS     straight vs stopped, restarted and continued, recurrent state included
        (through the Fortran API, and with the host model's restart files).
PEM     1..N ranks identical with reproducible batching (chunk=N); without it, measured.
PET     1 vs 2 threads, chunked (must match) and unchunked (measured).
NODE    node batching (columns gathered to the node's device owner) == rank batching.
FORMATS (``--format pt2`` only) the TorchScript file and the .pt2 package of the same
        weights on the same inputs: measured (max |diff|, ulps), never failed.

``--format pt2`` runs every row on AOTInductor packages of the same models.

Modules: :mod:`.compare` (byte comparison, ulps, first rank/column/variable),
:mod:`.fortran` (f90wrap wrapper build and access), :mod:`.api_rows` and :mod:`.host_rows`
(the rows), :mod:`.matrix` (rows and table), :mod:`.command` (``hybridge verify``).
"""
