"""Test support for hybridge: fixture models built at test time and their Python reference.

Nothing here is needed to run a coupled model; the pytest suites, the Fortran test
programs and the benchmarks use it to get small, deterministic model files.
"""
