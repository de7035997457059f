"""A training run's folder: what it holds, and never overwriting a run by accident.

``config.yaml`` (the resolved configuration), ``last.pt`` (every epoch), ``best.pt`` (when
validation improves), ``history.csv`` (one row per epoch), ``training_curve.png`` and, when
TensorBoard is installed, ``tensorboard/``. A folder that already holds a run is refused
unless the run is being resumed there or ``--overwrite`` is given; with ``--overwrite`` the
earlier run's files (only those) are removed first, so nothing of it survives in the new
run (a stale ``best.pt`` would otherwise outlive it).
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

from ..checkpoint import CheckpointError, load_checkpoint
from ..config import ConfigError, to_yaml
from ..files import write_text

RUN_FILES = ("config.yaml", "last.pt", "best.pt", "history.csv", "training_curve.png")
RUN_FOLDERS = ("tensorboard",)


def _describe(folder: Path) -> str:
    last = folder / "last.pt"
    if not last.exists():
        return "files of an earlier run"
    try:
        ckpt = load_checkpoint(last)
    except CheckpointError:
        return "an unreadable last.pt"
    done = ckpt.get("epoch", "?")
    total = (ckpt.get("config") or {}).get("epochs", "?")
    state = "finished" if done == total or ckpt.get("finished") else "stopped"
    return f"a run {state} at epoch {done} of {total}"


def prepare(folder, resume=None, overwrite: bool = False) -> Path:
    """Check (and with ``overwrite`` clear) the run folder before any work starts."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"out {folder} exists and is not a folder")
    present = [n for n in RUN_FILES + RUN_FOLDERS if (folder / n).exists()]
    resuming_here = resume is not None and Path(resume).resolve().parent == folder.resolve()
    if present and not resuming_here:
        if not overwrite:
            raise ConfigError(
                f"run folder {folder} already holds {_describe(folder)} ({', '.join(present)}); pass "
                f"--overwrite to replace it, --resume {folder / 'last.pt'} to continue it, "
                "or choose another --out"
            )
        for name in present:
            path = folder / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_config(folder: Path, cfg: dict) -> None:
    """``config.yaml``: the resolved configuration, rewritten when a run is resumed."""
    write_text(Path(folder) / "config.yaml", to_yaml(cfg))


def write_history(rows: list[dict], path: Path) -> None:
    """``history.csv``: one row per epoch (columns of the union of the rows, first seen first)."""
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    write_text(Path(path), buf.getvalue())
