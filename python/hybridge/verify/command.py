"""``hybridge verify``: launch the verification matrix under mpirun and pass on its verdict;
``hybridge verify replay DIR`` reruns a host's recorded calls in Python (replay.py).

    hybridge verify --ranks 4                 # the default (CI-sized) matrix
    hybridge verify --ranks 4 --ncol 384 --host-steps 72 --json verify.json
    hybridge verify replay run/calls --model model.pt

The work happens in ``mpirun -n RANKS python -m hybridge.verify ...`` (same options);
this command only builds that command line, so both entry points behave the same.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from hybridge.verify import replay
from hybridge.verify.__main__ import add_arguments as _matrix_arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ranks",
        type=int,
        default=4,
        help="MPI ranks of the harness (PYREF, PEM, PET, ERS through the API); default 4",
    )
    _matrix_arguments(p)
    sub = p.add_subparsers(dest="verify_command", metavar="replay", required=False)
    replay.add_arguments(
        sub.add_parser(
            "replay",
            help="rerun the calls a host recorded (engine option record=DIR) in Python, bit for bit",
            description=replay.__doc__.split("\n\n")[0],
        )
    )


def _forwarded(args) -> list[str]:
    """The options of ``args`` that differ from the defaults, as command-line words."""
    probe = argparse.ArgumentParser()
    _matrix_arguments(probe)
    words = []
    for action in probe._actions:
        if not action.option_strings or action.dest == "help":
            continue
        value = getattr(args, action.dest)
        if value == action.default:
            continue
        flag = action.option_strings[0]
        if isinstance(action, argparse._StoreTrueAction):
            words.append(flag)
        elif isinstance(value, (tuple, list)):
            words += [flag, ",".join(str(v) for v in value)]
        else:
            words += [flag, str(value)]
    return words


def mpirun_command(nranks: int, matrix_args: list[str]) -> list[str]:
    return [
        "mpirun",
        "-n",
        str(nranks),
        "--oversubscribe",
        sys.executable,
        "-m",
        "hybridge.verify",
        *matrix_args,
    ]


def run(args) -> int:
    if args.verify_command == "replay":
        return replay.run(args)
    if args.ranks < 1:
        raise ValueError(f"--ranks {args.ranks}: need at least one rank")
    env = dict(
        os.environ,
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
    )
    return subprocess.run(mpirun_command(args.ranks, _forwarded(args)), env=env).returncode
