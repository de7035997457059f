"""``hybridge train``: fit an emulator on ClimSim-format files (:mod:`hybridge.training`).

The run folder (``--out``) gets ``config.yaml``, ``last.pt`` (every epoch), ``best.pt``
(when the held-out loss improves), ``history.csv``, ``training_curve.png`` and, with the
``tensorboard`` package, ``tensorboard/``. ``--resume RUN/last.pt`` continues a run from
its saved configuration (flags override it, e.g. ``--epochs 25``) and its learning-rate
schedule; a folder that holds a run is not overwritten without ``--overwrite``.
"""

from __future__ import annotations

import argparse

import torch.distributed as dist

from ..checkpoint import load_checkpoint
from ..config import load_config, parse_set
from ..models import describe_models, load_plugins
from .loop import train
from .tensorboard import check as check_tensorboard


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``hybridge train`` arguments; every config key is also ``--set KEY=VALUE``."""
    p.add_argument("-c", "--config", help="YAML config file (keys: docs/toolkit_config.md)")
    p.add_argument("--data", help="directory of .mli/.mlo files")
    p.add_argument("--out", help="run folder for config.yaml, checkpoints, history and figures")
    p.add_argument("--model", help="a registered model: mlp, resmlp, unet1d, reslstm or your own")
    p.add_argument("--variables", help="v1, v2 or a variable-set file")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--num-workers", type=int)
    p.add_argument("--cache-dir", help="directory for the .npy cache")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other config key, value read as YAML (repeatable)",
    )
    p.add_argument("--resume", help="continue the run of this checkpoint (RUN/last.pt)")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (epoch lines stay)")
    p.add_argument("--list-models", action="store_true", help="print the registered models and their options")


def run(args) -> int:
    """Resolve and check the configuration, then train."""
    if args.list_models:
        extra = parse_set(args.set).get("plugins", [])
        load_plugins([extra] if isinstance(extra, str) else list(extra))
        print(describe_models())
        return 0
    flags = {
        "data": args.data,
        "out": args.out,
        "model": args.model,
        "variables": args.variables,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "device": args.device,
        "num_workers": args.num_workers,
        "cache_dir": args.cache_dir,
    }
    flags.update(parse_set(args.set))
    if args.no_progress:
        flags["progress"] = False
    base = load_checkpoint(args.resume).get("config") if args.resume else None
    cfg = load_config(args.config, flags, base=base)
    check_tensorboard(cfg["tensorboard"])
    s = train(cfg, resume=args.resume, overwrite=args.overwrite)
    if s["rank"] == 0:
        this_run = s["last_epoch"] - s["first_epoch"] + 1
        stop = ", stopped early" if s["stopped_early"] else ""
        print(
            f"trained epochs {s['first_epoch']}..{s['last_epoch']} of {cfg['epochs']} ({this_run} in this run"
            f"{stop}) in {s['seconds']:.1f} s on {s['world_size']} process(es): best held-out loss "
            f"{s['best_val_loss']:.4g}, last held-out R² {s['val_r2']:.3f}; run folder {cfg['out']}"
        )
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0
