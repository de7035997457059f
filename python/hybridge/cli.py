"""``hybridge`` command line: a thin argparse layer over subcommand modules.

Each subcommand module provides ``add_arguments(parser)`` and ``run(args) -> int``; add a
``(name, module, help)`` entry to :data:`COMMANDS` to register a new one. Every error that
is the user's to fix (a bad argument, config, data file, checkpoint or model file) prints
one line ``hybridge <command>: error: ...`` and exits 1; a usage error exits 2; anything
else is an internal error (exit 3). ``--debug`` prints the traceback as well.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

import yaml

COMMANDS = [
    ("synthetic", "hybridge.data.synthetic", "write a small ClimSim-format dataset (any grid)"),
    ("train", "hybridge.training.command", "train an emulator on ClimSim-format files"),
    ("export", "hybridge.export.command", "checkpoint -> TorchScript model with manifest"),
    ("inspect", "hybridge.inspect_model", "print a model's manifest and run a dry batch"),
    (
        "evaluate",
        "hybridge.evaluation.command",
        "offline metrics of model(s) on held-out ClimSim-format files",
    ),
    ("demo", "hybridge.online.demo", "reference run, training, hybrid runs and online evaluation report"),
    ("ensemble", "hybridge.ensemble", "train and run an ensemble of hybrid simulations, summarise survival"),
    (
        "verify",
        "hybridge.verify.command",
        "bit-level coupling harness (mpirun; PYREF, REP, ERS, PEM, PET, NODE)",
    ),
    (
        "config",
        "hybridge.config_cmd",
        "print the flags and folders a foreign build needs (--fflags, --libs, --cmake-dir)",
    ),
]

#: Errors that are the user's to fix: one line, exit 1. ValueError covers hybridge's own
#: (ConfigError, DataError, CheckpointError, ManifestError, PhysicsError, ModelError, ...);
#: RuntimeError the failed runs of the host model that demo and ensemble report.
USER_ERRORS = (ValueError, OSError, RuntimeError, yaml.YAMLError)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (``hybridge train: error: ...``), exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``hybridge`` parser with every subcommand."""
    parser = _Parser(
        prog="hybridge",
        description="ClimSim-format data, emulator training, export with "
        "manifest, inspection and offline evaluation",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module, help_text in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of an error"
        )
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _one_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if not lines:
        return type(e).__name__
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"


def main(argv=None) -> int:
    """Run one subcommand; returns the exit code (see the module docstring)."""
    args = build_parser().parse_args(argv)
    try:
        return args._run(args)
    except KeyboardInterrupt:
        print(f"hybridge {args.command}: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        if args.debug:
            traceback.print_exc()
        print(f"hybridge {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug, not the user's: still one line unless --debug
        if args.debug:
            traceback.print_exc()
        hint = "" if args.debug else " (run with --debug for the traceback)"
        print(
            f"hybridge {args.command}: internal error: {type(e).__name__}: {_one_line(e)}{hint}",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
