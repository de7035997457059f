"""The training loop: Adam, a learning-rate schedule per epoch, early stopping on held-out data.

Everything the run needs is checked before the first batch (configuration, plugins and
model options, physics options, the data's variables and levels, the run folder), so that a
mistake costs seconds, not an epoch. Validation uses only the held-out time steps
(``val_fraction`` or ``val_from``); a split that leaves none is an error, except with
``val_fraction: 0`` where the run says that best.pt and early stopping use the training
loss. Launched under ``torchrun`` it trains data-parallel (DDP; gloo on CPU, NCCL on GPU):
files are sharded across processes, only rank 0 writes; ``HYBRIDGE_DDP_BACKEND=gloo``
forces gloo on a machine with GPUs.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .. import __version__
from ..checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint
from ..config import ConfigError
from ..data import ClimSimStream, PairCache, find_pairs, get_variable_set, make_loader, split_by_time
from ..data.files import check_pair
from ..data.grid import grid_for
from ..data.normalization import make_normalization, resolve_kind
from ..data.ranges import training_ranges
from ..models import build_model, load_plugins
from ..physics import resolve_physics
from ..progress import EpochClock, bar, duration, log
from ..skill import DEFINITION, mean_r2, per_variable
from . import run_folder
from .curve import plot_training_curve
from .schedule import LRSchedule
from .tensorboard import open_writer
from .validation import validate


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(
            "nccl"
            if torch.cuda.is_available() and os.environ.get("HYBRIDGE_DDP_BACKEND") != "gloo"
            else "gloo"
        )
    return (dist.get_rank(), dist.get_world_size()) if world > 1 else (0, 1)


def _device(name: str, rank: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and dist.is_initialized():
        name = f"cuda:{int(os.environ.get('LOCAL_RANK', rank)) % torch.cuda.device_count()}"
    return torch.device(name)


def _check_resume(ckpt: dict, path, cfg: dict, varset) -> None:
    mine = (cfg["model"], cfg["model_options"], varset.to_dict())
    theirs = (ckpt.get("model"), ckpt.get("model_options"), ckpt.get("variables"))
    for what, a, b in zip(("model", "model_options", "variables"), mine, theirs, strict=True):
        if a != b:
            raise CheckpointError(f"{path}: checkpoint is for {what} {b!r}, the configuration asks for {a!r}")
    if ckpt["epoch"] >= cfg["epochs"]:
        raise ConfigError(
            f"{path} is at epoch {ckpt['epoch']} and the run asks for {cfg['epochs']} epochs: nothing to "
            f"train; pass --epochs N with N > {ckpt['epoch']} to continue"
        )


def _split(cfg: dict, pairs):
    train_pairs, val_pairs = split_by_time(pairs, cfg["val_fraction"], cfg["stride"], cfg["val_from"])
    if not train_pairs:
        raise ConfigError(f"{cfg['data']}: no training time steps before the validation period")
    if not val_pairs and (cfg["val_fraction"] > 0 or cfg["val_from"]):
        how = f"val_from {cfg['val_from']}" if cfg["val_from"] else f"val_fraction {cfg['val_fraction']}"
        raise ConfigError(
            f"{cfg['data']}: {len(pairs)} time steps and {how} leave none held out for validation; "
            "add time steps, raise val_fraction or move val_from (val_fraction: 0 trains without "
            "validation, on purpose)"
        )
    return train_pairs, val_pairs


def _period(pairs) -> dict:
    return {"first": pairs[0].stamp, "last": pairs[-1].stamp, "steps": len(pairs)} if pairs else {}


def _checked(cfg: dict, resume):
    """Every check that needs no training: returns what the run is made of."""
    plugins = load_plugins(cfg["plugins"])
    varset = get_variable_set(cfg["variables"])
    ckpt = None
    if resume:
        ckpt = load_checkpoint(resume)
        _check_resume(ckpt, resume, cfg, varset)
    build_model(cfg["model"], varset, cfg["model_options"])  # a bad option fails here, not later
    pairs = find_pairs(cfg["data"], cfg["case"])
    train_pairs, val_pairs = _split(cfg, pairs)
    ncol = check_pair(train_pairs[0], varset)
    for p in {train_pairs[-1], *val_pairs[:1], *val_pairs[-1:]}:
        check_pair(p, varset)
    grid = grid_for(ncol, cfg["grid"])
    nlev = varset.nlev
    has_levels = nlev is not None and grid.hyai is not None and grid.hyai.size == nlev + 1
    _, notes = resolve_physics(varset, cfg["physics"], has_grid=has_levels)  # errors now, not at export
    kind, why = resolve_kind(cfg["normalization"], varset)
    return plugins, varset, train_pairs, val_pairs, grid, notes, ckpt, kind, why


def train(cfg: dict, resume=None, overwrite: bool = False) -> dict:
    """Train from a full, validated configuration (:func:`hybridge.config.load_config`).

    Returns a summary: ``first_epoch``/``last_epoch`` (1-based, this run), ``epochs``
    (the run's total so far), ``stopped_early``, ``best_val_loss``, ``val_r2`` (mean over
    the variables, :data:`hybridge.skill.DEFINITION`), ``seconds``, ``rank``, ``world_size``."""
    rank, world = _distributed()
    torch.manual_seed(cfg["seed"])
    device = _device(cfg["device"], rank)
    plugins, varset, train_pairs, val_pairs, grid, notes, ckpt, kind, why = _checked(cfg, resume)
    if len(train_pairs) < world:
        raise ConfigError(f"{len(train_pairs)} training files for {world} processes")
    out = Path(cfg["out"])
    if rank == 0:
        run_folder.prepare(out, resume, overwrite)
    say = log if rank == 0 else (lambda _line: None)
    for n in notes:
        say(f"physics: {n}")
    if not val_pairs:
        say("warning: no held-out time steps (val_fraction 0): best.pt and early stop use the training loss")

    start_epoch, best, stale, history, seconds_before = 0, math.inf, 0, [], 0.0
    schedule = LRSchedule(cfg)
    if ckpt is not None:
        norm_t, norm_source = ckpt["normalization"], ckpt["normalization_source"]
        ranges = ckpt.get("training_ranges") or training_ranges(train_pairs, varset, cfg["dt"])
        start_epoch, best, stale = ckpt["epoch"], ckpt["best_val_loss"], ckpt["stale_epochs"]
        history = list(ckpt["history"])
        seconds_before = float(history[-1].get("seconds", 0.0)) if history else 0.0
        schedule.load_state_dict(ckpt.get("schedule", {}))
        old_total = (ckpt.get("config") or {}).get("epochs", cfg["epochs"])
        if old_total != cfg["epochs"] and cfg["lr_schedule"] == "cosine":
            say(
                f"resume: the cosine schedule now spans {cfg['epochs']} epochs (was {old_total}); "
                f"learning rate {schedule.lr_at(start_epoch):.3g} at epoch {start_epoch + 1}"
            )
    else:
        say(f"normalization: {kind} ({why})")
        norm = make_normalization(
            kind, train_pairs, varset, cfg["dt"], progress=cfg["progress"] and rank == 0
        )
        norm_t, norm_source = norm.to_tensors(), norm.source
        ranges = training_ranges(train_pairs, varset, cfg["dt"], progress=cfg["progress"] and rank == 0)
    norm_dev = {k: v.to(device) for k, v in norm_t.items()}

    model = build_model(cfg["model"], varset, cfg["model_options"]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    if ckpt is not None:
        load_weights(model, ckpt["state_dict"], resume)
        opt.load_state_dict(ckpt["optimizer"])
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    stream = ClimSimStream(
        train_pairs,
        varset,
        cfg["batch_size"],
        cfg["dt"],
        shuffle=True,
        seed=cfg["seed"],
        shuffle_files=cfg["shuffle_files"],
        cache_dir=cfg["cache_dir"],
        rank=rank,
        world_size=world,
    )
    loader = make_loader(stream, cfg["num_workers"])
    cache = PairCache(cfg["cache_dir"], varset, cfg["dt"]) if cfg["cache_dir"] else None
    ncol = grid.ncol
    batches = math.ceil(ncol * math.ceil(len(train_pairs) / world) / cfg["batch_size"])
    record = {
        "model": cfg["model"],
        "model_options": cfg["model_options"],
        "plugins": plugins,
        "variables": varset.to_dict(),
        "dt": float(cfg["dt"]),
        "normalization": norm_t,
        "normalization_source": norm_source,
        "training_ranges": ranges,
        "physics": cfg["physics"],
        "grid": grid.to_dict(),
        "data": str(Path(cfg["data"]).resolve()),
        "split": {"train": _period(train_pairs), "validation": _period(val_pairs)},
        "hybridge_version": __version__,
        "config": _plain(cfg),
    }
    if rank == 0:
        run_folder.write_config(out, _plain(cfg))
        say(
            f"training {cfg['model']} on {len(train_pairs)} time steps ({train_pairs[0].stamp} .. "
            f"{train_pairs[-1].stamp}), validating on {len(val_pairs)} held-out steps; "
            f"epochs {start_epoch + 1}..{cfg['epochs']}; {DEFINITION}"
        )
    writer = open_writer(cfg["tensorboard"], out / "tensorboard", say) if rank == 0 else None
    clock = EpochClock(start_epoch, cfg["epochs"])
    stopped_early, epoch = False, start_epoch - 1
    for epoch in range(start_epoch, cfg["epochs"]):
        t_epoch = time.perf_counter()
        stream.set_epoch(epoch)
        lr = schedule.apply(opt, epoch)
        train_sse, train_n = 0.0, 0
        join = net.join() if world > 1 else contextlib.nullcontext()
        with join:
            for x, y in bar(
                loader, batches, f"epoch {epoch + 1}/{cfg['epochs']}", cfg["progress"] and rank == 0, "batch"
            ):
                x, y = x.to(device), y.to(device)
                pred = net((x - norm_dev["x_mean"]) / norm_dev["x_range"])
                loss = torch.nn.functional.mse_loss(pred, y * norm_dev["y_scale"])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                train_sse += float(loss.detach()) * pred.numel()
                train_n += pred.numel()
        train_loss = train_sse / max(train_n, 1)
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": train_loss}
        if val_pairs:
            val_loss, sums = validate(model, val_pairs, varset, norm_dev, device, cfg["dt"], cache)
            rows = per_variable(sums.per_feature(grid.weights), varset)
            row.update({"val_loss": val_loss, "val_r2": mean_r2(rows)})
            row.update({f"val_r2_{r['variable']}": r["r2"] for r in rows})
        else:
            val_loss = train_loss
            row.update({"val_loss": float("nan"), "val_r2": float("nan")})
        schedule.end_epoch(val_loss)
        improved = val_loss < best
        best, stale = (val_loss, 0) if improved else (best, stale + 1)
        row["epoch_seconds"] = round(time.perf_counter() - t_epoch, 2)
        row["seconds"] = round(seconds_before + clock.elapsed(), 2)
        history.append(row)
        stopped_early = stale >= cfg["patience"] and epoch + 1 < cfg["epochs"]
        if rank == 0:
            say(_epoch_line(row, cfg["epochs"], clock.eta(epoch) if not stopped_early else 0.0, improved))
            state = {
                **record,
                "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                "optimizer": opt.state_dict(),
                "schedule": schedule.state_dict(),
                "epoch": epoch + 1,
                "best_val_loss": best,
                "stale_epochs": stale,
                "val_r2": row["val_r2"],
                "history": history,
                "finished": epoch + 1 == cfg["epochs"] or stopped_early,
            }
            if improved:
                save_checkpoint(state, out / "best.pt")
            save_checkpoint(state, out / "last.pt")
            run_folder.write_history(history, out / "history.csv")
            if writer is not None:
                for k, v in row.items():
                    if k != "epoch" and isinstance(v, float) and np.isfinite(v):
                        writer.add_scalar(k.replace("val_r2_", "val_r2/"), v, epoch + 1)
                writer.flush()
        if stopped_early:
            say(f"early stop: no validation improvement for {stale} epochs")
            break
    if rank == 0:
        if writer is not None:
            writer.close()
        title = (
            f"{cfg['model']} on {varset.name}: {Path(cfg['data']).name} ({len(train_pairs)} training steps)"
        )
        plot_training_curve(history, out / "training_curve.png", title)
    summary = {
        "first_epoch": start_epoch + 1,
        "last_epoch": epoch + 1,
        "epochs": epoch + 1,
        "stopped_early": stopped_early,
        "best_val_loss": best,
        "val_r2": history[-1]["val_r2"] if history else float("nan"),
        "seconds": clock.elapsed(),
        "rank": rank,
        "world_size": world,
    }
    if world > 1:
        dist.barrier()
    return summary


def _epoch_line(row: dict, total: int, eta: float, improved: bool) -> str:
    first = next((k for k in row if k.startswith("val_r2_")), None)
    val = (
        f"val loss {row['val_loss']:.4g}, R² mean of variables {row['val_r2']:.3f}"
        + (f", {first[len('val_r2_') :]} {row[first]:.3f}" if first else "")
        if np.isfinite(row["val_loss"])
        else "no held-out data"
    )
    return (
        f"epoch {row['epoch']}/{total}: train loss {row['train_loss']:.4g} | {val}"
        f"{' (best)' if improved else ''} | lr {row['lr']:.3g} | {duration(row['epoch_seconds'])}, "
        f"ETA {duration(eta)}"
    )


def _plain(cfg: dict) -> dict:
    """The config with only types ``torch.load(weights_only=True)`` and YAML accept."""
    return {
        k: (v if isinstance(v, (int, float, str, bool, list, dict, type(None))) else str(v))
        for k, v in cfg.items()
    }
