"""``mpirun -n N python -m hybridge.verify [options]``: run the verification matrix on N
ranks, print the table on rank 0, exit 1 if a row fails (see hybridge/verify/__init__.py)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from hybridge.verify.api_rows import (
    MUTATIONS,
    ApiSettings,
    Mutation,
    ers_rows,
    fixture_models,
    format_rows,
    node_rows,
    pem_rows,
    pet_rows,
    pyref_rows,
)
from hybridge.verify.matrix import format_table

TESTS = ("PYREF", "REP", "ERS", "PEM", "PET", "NODE")
LAYERS = ("fortran", "host-driver", "c", "engine")


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of integers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"'{text}': values must be >= 1")
    return values


def _names(allowed):
    def parse(text: str) -> tuple[str, ...]:
        values = tuple(v.strip() for v in text.split(",") if v.strip())
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise argparse.ArgumentTypeError(f"'{text}': choose from {', '.join(allowed)}")
        return values

    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tests",
        type=_names(TESTS),
        default=TESTS,
        help="rows to run, comma-separated (default: all of %(default)s)",
    )
    p.add_argument(
        "--layers",
        type=_names(LAYERS),
        default=LAYERS,
        help="layers checked by PYREF (default: fortran,host-driver,c,engine); "
        "PEM, PET and ERS go through the Fortran API",
    )
    p.add_argument(
        "--ncol",
        type=int,
        default=30,
        help="columns of the API rows (default 30: on 1..4 ranks, batches of 7 to 30 "
        "columns, where unchunked results are known to depend on the batch)",
    )
    p.add_argument("--nstep", type=int, default=3, help="steps of the recurrent model (default 3)")
    p.add_argument("--chunk", type=int, default=16, help="reproducible chunk size, columns (default 16)")
    p.add_argument(
        "--threads", type=_int_list, default=(1, 2), help="the two thread counts PET compares (default 1,2)"
    )
    p.add_argument(
        "--host-steps",
        type=int,
        default=6,
        help="time steps of each host run (default 6, i.e. 2 model hours)",
    )
    p.add_argument(
        "--host-ranks",
        type=_int_list,
        default=(1, 2, 3, 4),
        help="rank counts of the host PEM row (default 1,2,3,4)",
    )
    p.add_argument(
        "--host-exe",
        type=Path,
        default=None,
        help="hybridge-host executable (default <build>/bin/hybridge-host)",
    )
    p.add_argument(
        "--host-dynamics",
        choices=("none", "spectral"),
        default="none",
        help="the host rows' dynamics: none (ClimSim grid, default) or spectral "
        "(the dynamical core, T21, 60 levels)",
    )
    p.add_argument("--no-host", action="store_true", help="skip the host-model rows")
    p.add_argument(
        "--format",
        choices=("torchscript", "pt2"),
        default="torchscript",
        help="model file format of every row (pt2: AOTInductor packages, compiled for this machine; "
        "adds the FORMATS rows, TorchScript vs pt2 of the same weights, measured)",
    )
    p.add_argument("--workdir", type=Path, default=None, help="scratch folder (default <build>/verify/work)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    p.add_argument(
        "--mutate",
        choices=MUTATIONS,
        default=None,
        help="inject a coupling bug, to prove the harness catches it",
    )
    p.add_argument("--mutate-rank", type=int, default=1, help="rank of the mutation (default 1)")
    p.add_argument("--mutate-column", type=int, default=2, help="local column of the mutation (default 2)")
    p.add_argument(
        "--mutate-variable",
        default="state_t[30]",
        help="input variable perturb_input moves by one ulp, from the manifest layout "
        "(default state_t[30]; the first input value where the layout lacks it)",
    )


def _fail(comm, message: str):
    """Stop every rank; only rank 0 prints the message."""
    raise SystemExit(f"hybridge verify: {message}" if comm.rank == 0 else 1)


def _check_sizes(args, comm) -> None:
    for name in ("ncol", "nstep", "chunk", "host_steps"):
        if getattr(args, name) < (0 if name == "chunk" else 1):
            _fail(comm, f"--{name.replace('_', '-')} must be positive")
    if len(args.threads) != 2:
        _fail(comm, "--threads takes two thread counts, e.g. 1,2")
    if args.chunk == 0:
        _fail(comm, "--chunk 0 turns reproducible batching off; PEM and PET measure that case on their own")


def run_matrix(args, comm) -> list:
    """All requested rows, on every rank of comm; the rows are complete on rank 0."""
    from hybridge.core import build_dir

    workdir = (args.workdir or build_dir() / "verify" / "work").resolve()
    if args.ncol < comm.size:
        _fail(comm, f"--ncol {args.ncol} is fewer than the {comm.size} ranks")
    mutation = None
    if args.mutate:
        mutation = Mutation(
            args.mutate, min(args.mutate_rank, comm.size - 1), args.mutate_column, args.mutate_variable
        )
    s = ApiSettings(
        ncol=args.ncol, nstep=args.nstep, chunk=args.chunk, threads=args.threads, mutation=mutation
    )
    if "fortran" in args.layers or {"PEM", "PET", "ERS"} & set(args.tests):
        _build_fortran_wrapper(comm, "api")
    if "PYREF" in args.tests and "host-driver" in args.layers:
        _build_fortran_wrapper(comm, "host")
    try:
        models = fixture_models(workdir / "models", comm, args.format)
        scripted = fixture_models(workdir / "models", comm) if args.format == "pt2" else None
    except RuntimeError as e:
        _fail(comm, str(e))
    rows = []
    if "PYREF" in args.tests:
        rows += pyref_rows(comm, models, s, args.layers)
    if "PEM" in args.tests:
        rows += pem_rows(comm, models, s)
    if "PET" in args.tests:
        rows += pet_rows(comm, models, s)
    if "ERS" in args.tests:
        rows += ers_rows(comm, models, s)
    if "NODE" in args.tests:
        rows += node_rows(comm, models, s)
    host_tests = {"REP", "ERS", "PEM", "PET"} & set(args.tests)
    if host_tests and not args.no_host:
        rows += _host(args, comm, workdir, models, host_tests)
    if scripted is not None:
        rows += format_rows(comm, scripted, models, s)
    return rows


def _build_fortran_wrapper(comm, name: str) -> None:
    """Rank 0 builds (or finds up to date) f90wrap wrapper ``name``; every rank waits."""
    from hybridge.verify.fortran import build_wrapper

    error = ""
    if comm.rank == 0:
        try:
            build_wrapper(name)
        except (RuntimeError, OSError) as e:
            error = str(e)
    error = comm.bcast(error, root=0)
    if error:
        _fail(comm, error)


def _host(args, comm, workdir: Path, models: dict, tests) -> list:
    from hybridge import install
    from hybridge.verify.host_rows import DYNAMICS, HostSettings, host_rows

    try:
        exe = (args.host_exe or install.host_executable()).resolve()
    except install.NotInstalledError as e:
        _fail(comm, f"{e}; or pass --host-exe, or --no-host")
    if not exe.exists():
        _fail(comm, f"host model {exe} not found (build it, pass --host-exe, or --no-host)")
    s = HostSettings(
        exe=exe,
        model=models["host_model"],
        workdir=workdir / "host",
        steps=args.host_steps,
        chunk=args.chunk,
        ranks=args.host_ranks,
        threads=args.threads,
        drop_restart_state=args.mutate == "drop_state",
        dynamics=DYNAMICS[args.host_dynamics],
    )
    return host_rows(comm, s, tests)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m hybridge.verify", description="bit-level coupling harness (run under mpirun)"
    )
    add_arguments(p)
    args = p.parse_args(argv)
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    _check_sizes(args, comm)
    t0 = time.perf_counter()
    rows = run_matrix(args, comm)
    if comm.rank != 0:
        return 0
    print(format_table(rows))
    failed = [r for r in rows if r.failed]
    print(
        f"\n{len(rows)} rows, {len(failed)} failed, {comm.size} harness ranks, "
        f"{args.format} models, {time.perf_counter() - t0:.0f} s"
    )
    if args.json:
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        report = {"ranks": comm.size, "format": args.format, "rows": [r.to_dict() for r in rows]}
        tmp.write_text(json.dumps(report, indent=1))
        os.replace(tmp, args.json)
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    code = main()
    # Every rank must leave with rank 0's verdict, or mpirun reports the first non-zero.
    from mpi4py import MPI

    sys.exit(MPI.COMM_WORLD.bcast(code, root=0))
