"""``hybridge train``: fit an emulator on ClimSim-format files.

Adam with a learning-rate schedule and early stopping on the validation loss (MSE of
the normalized targets). ``last.pt`` is written every epoch (resume with ``--resume``),
``best.pt`` when validation improves, ``history.csv`` with loss and R² per epoch.
Launched under ``torchrun`` it trains data-parallel (DDP; gloo on CPU, NCCL on GPU):
files are sharded across processes, only rank 0 writes; ``HYBRIDGE_DDP_BACKEND=gloo``
forces gloo on a machine with GPUs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from .checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint
from .config import load_config, parse_set
from .data import ClimSimStream, find_pairs, get_variable_set, make_loader, make_normalization, split_by_time
from .models import build_model
from .physics import physics_options


class R2Meter:
    """Per-feature R² over a stream of batches (float64 sums) of normalized targets.

    ``value`` is the mean over the features whose target variance is at least 1e-6 of the
    largest: targets that (almost) never vary, such as moisture tendencies in the
    stratosphere, would otherwise dominate the mean with meaningless huge negative R²."""

    def __init__(self):
        self.n, self.sy, self.syy, self.sse = 0, 0.0, 0.0, 0.0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        p, t = pred.detach().double(), target.detach().double()
        self.n += t.shape[0]
        self.sy = self.sy + t.sum(0)
        self.syy = self.syy + (t * t).sum(0)
        self.sse = self.sse + ((p - t) ** 2).sum(0)

    @property
    def value(self) -> float:
        if self.n == 0:
            return float("nan")
        sst = self.syy - self.sy**2 / self.n
        ok = sst > 1e-6 * sst.max()
        return float((1.0 - self.sse[ok] / sst[ok]).mean()) if ok.any() else float("nan")

    @property
    def mse(self) -> float:
        return float(self.sse.sum() / (self.n * self.sse.numel())) if self.n else float("nan")


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


def _scheduler(opt, cfg):
    kind = cfg["lr_schedule"]
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg["epochs"]))
    if kind == "step":
        return torch.optim.lr_scheduler.StepLR(opt, cfg["lr_step_epochs"], cfg["lr_gamma"])
    if kind == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=cfg["lr_gamma"], patience=1)
    if kind == "none":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    raise ValueError(f"lr_schedule must be cosine, step, plateau or none, got {kind!r}")


def _check_resume(ckpt: dict, path, cfg: dict, varset) -> None:
    mine = (cfg["model"], cfg["model_options"], varset.to_dict())
    theirs = (ckpt.get("model"), ckpt.get("model_options"), ckpt.get("variables"))
    for what, a, b in zip(("model", "model_options", "variables"), mine, theirs, strict=True):
        if a != b:
            raise CheckpointError(f"{path}: checkpoint is for {what} {b!r}, the configuration asks for {a!r}")


def evaluate_loss(model, loader, norm, device) -> R2Meter:
    meter = R2Meter()
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            meter.update(model((x - norm["x_mean"]) / norm["x_range"]), y * norm["y_scale"])
    model.train()
    return meter


def train(cfg: dict, resume=None) -> dict:
    """Train from a full configuration dict; returns a summary (epochs, best val R², seconds)."""
    rank, world = _distributed()
    torch.manual_seed(cfg["seed"])
    device = _device(cfg["device"], rank)
    varset = get_variable_set(cfg["variables"])
    physics_options(cfg["physics"])  # fail now, not at export, on an unknown option
    pairs = find_pairs(cfg["data"], cfg["case"])
    train_pairs, val_pairs = split_by_time(pairs, cfg["val_fraction"], cfg["stride"], cfg["val_from"])
    if len(train_pairs) < world:
        raise ValueError(f"{len(train_pairs)} training files for {world} processes")

    start_epoch, best, stale, history = 0, float("inf"), 0, []
    ckpt = None
    if resume:
        ckpt = load_checkpoint(resume)
        _check_resume(ckpt, resume, cfg, varset)
        norm_t, norm_source = ckpt["normalization"], ckpt["normalization_source"]
    else:
        norm = make_normalization(cfg["normalization"], train_pairs, varset, cfg["dt"])
        norm_t, norm_source = norm.to_tensors(), norm.source
    norm_dev = {k: v.to(device) for k, v in norm_t.items()}

    model = build_model(cfg["model"], varset, cfg["model_options"]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched = _scheduler(opt, cfg)
    if ckpt is not None:
        load_weights(model, ckpt["state_dict"], resume)
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        start_epoch, best, stale = ckpt["epoch"], ckpt["best_val_loss"], ckpt["stale_epochs"]
        history = list(ckpt["history"])
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
    val_source = val_pairs or train_pairs  # no held-out steps: stop on the training loss
    val_loader = make_loader(
        ClimSimStream(
            val_source,
            varset,
            max(cfg["batch_size"], 4096),
            cfg["dt"],
            shuffle=False,
            cache_dir=cfg["cache_dir"],
        ),
        cfg["num_workers"],
    )
    out = Path(cfg["out"])
    t0 = time.perf_counter()
    epoch = start_epoch
    for epoch in range(start_epoch, cfg["epochs"]):
        stream.set_epoch(epoch)
        meter = R2Meter()
        bar = tqdm(
            loader,
            desc=f"epoch {epoch + 1}/{cfg['epochs']}",
            unit="batch",
            leave=False,
            disable=not cfg["progress"] or rank != 0,
        )
        join = net.join() if world > 1 else contextlib.nullcontext()
        with join:
            for i, (x, y) in enumerate(bar):
                x, y = x.to(device), y.to(device)
                pred = net((x - norm_dev["x_mean"]) / norm_dev["x_range"])
                target = y * norm_dev["y_scale"]
                loss = torch.nn.functional.mse_loss(pred, target)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                meter.update(pred, target)
                if i % 10 == 0:
                    bar.set_postfix(loss=f"{loss.item():.4g}", r2=f"{meter.value:.3f}")
        val = evaluate_loss(model, val_loader, norm_dev, device)
        if cfg["lr_schedule"] == "plateau":
            sched.step(val.mse)
        else:
            sched.step()
        improved = val.mse < best
        best, stale = (val.mse, 0) if improved else (best, stale + 1)
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": meter.mse,
                "train_r2": meter.value,
                "val_loss": val.mse,
                "val_r2": val.value,
                "lr": opt.param_groups[0]["lr"],
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
        if rank == 0:
            if cfg["progress"]:
                tqdm.write(
                    f"epoch {epoch + 1}: train loss {meter.mse:.4g} R² {meter.value:.3f} | "
                    f"val loss {val.mse:.4g} R² {val.value:.3f}"
                )
            state = {
                "model": cfg["model"],
                "model_options": cfg["model_options"],
                "variables": varset.to_dict(),
                "dt": float(cfg["dt"]),
                "normalization": norm_t,
                "normalization_source": norm_source,
                "physics": cfg["physics"],
                "data": str(Path(cfg["data"]).resolve()),
                "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "epoch": epoch + 1,
                "best_val_loss": best,
                "stale_epochs": stale,
                "val_r2": val.value,
                "history": history,
                "config": _plain(cfg),
            }
            if improved:
                save_checkpoint(state, out / "best.pt")
            save_checkpoint(state, out / "last.pt")
            _write_history(history, out / "history.csv")
        if stale >= cfg["patience"]:
            if rank == 0 and cfg["progress"]:
                tqdm.write(f"early stop: no validation improvement for {stale} epochs")
            break
    summary = {
        "epochs": epoch + 1 if history else start_epoch,
        "best_val_loss": best,
        "val_r2": history[-1]["val_r2"] if history else float("nan"),
        "seconds": time.perf_counter() - t0,
        "rank": rank,
        "world_size": world,
    }
    if world > 1:
        dist.barrier()
    return summary


def _plain(cfg: dict) -> dict:
    """The config with only types ``torch.load(weights_only=True)`` accepts."""
    return {
        k: (v if isinstance(v, (int, float, str, bool, list, dict, type(None))) else str(v))
        for k, v in cfg.items()
    }


def _write_history(rows: list[dict], path: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(buf.getvalue())
    os.replace(tmp, path)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", help="YAML config file (keys: see hybridge.config.DEFAULTS)")
    p.add_argument("--data", help="directory of .mli/.mlo files")
    p.add_argument("--out", help="output directory for checkpoints and history")
    p.add_argument("--model", help="mlp, resmlp, unet1d or reslstm")
    p.add_argument("--variables", help="v1, v2 or a variable-set file")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--device", help="auto, cpu, cuda")
    p.add_argument("--num-workers", type=int)
    p.add_argument("--cache-dir", help="directory for the .npy cache")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other config key, value read as YAML (repeatable)",
    )
    p.add_argument("--resume", help="continue from this checkpoint (last.pt)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args) -> int:
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
    cfg = load_config(args.config, flags)
    s = train(cfg, resume=args.resume)
    if s["rank"] == 0:
        print(
            f"trained {s['epochs']} epochs in {s['seconds']:.1f} s on {s['world_size']} "
            f"process(es): best val loss {s['best_val_loss']:.4g}, last val R² {s['val_r2']:.3f}; "
            f"checkpoints in {cfg['out']}"
        )
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0
