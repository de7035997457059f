"""``hybridge`` command line: a thin argparse layer over subcommand modules.

Each subcommand module provides ``add_arguments(parser)`` and ``run(args) -> int``; add a
``(name, module, help)`` entry to :data:`COMMANDS` to register a new one. Errors that are
the user's to fix (bad data, config, checkpoint, model file) print one line and exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = [
    ("synthetic", "hybridge.data.synthetic", "write a small ClimSim-format dataset on the real grid"),
    ("train", "hybridge.train", "train an emulator on ClimSim-format files"),
    ("export", "hybridge.export", "checkpoint -> TorchScript model with manifest"),
    ("inspect", "hybridge.inspect_model", "print a model's manifest and run a dry batch"),
    ("evaluate", "hybridge.evaluate", "offline metrics of model(s) on ClimSim-format files"),
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybridge",
        description="ClimSim-format data, emulator training, export with "
        "manifest, inspection and offline evaluation",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module, help_text in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args._run(args)
    except (ValueError, FileNotFoundError, RuntimeError, OSError) as e:
        print(f"hybridge {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
