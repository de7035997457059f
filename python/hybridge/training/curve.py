"""``training_curve.png``: loss and held-out R² per epoch, with the learning rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..figures import pyplot, save


def plot_training_curve(history: list[dict], path: Path, title: str) -> None:
    """Three panels over the epochs: train and validation loss (log scale), the validation
    R² of each output variable and their mean, and the learning rate."""
    plt = pyplot()
    epochs = np.array([r["epoch"] for r in history])

    def col(key):
        return np.array([float(r.get(key, np.nan)) for r in history])

    fig, (ax_loss, ax_r2, ax_lr) = plt.subplots(1, 3, figsize=(14, 4.2))
    ax_loss.plot(epochs, col("train_loss"), "o-", label="training")
    if np.isfinite(col("val_loss")).any():
        ax_loss.plot(epochs, col("val_loss"), "s-", label="held-out")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss: MSE of normalized targets")
    ax_loss.legend()
    ax_loss.set_title("loss")
    per_var = [k for k in history[-1] if k.startswith("val_r2_")]
    colours = plt.get_cmap("tab20")  # v2 has 14 outputs: tab10 would repeat its colours
    for i, k in enumerate(per_var):
        ax_r2.plot(epochs, col(k), lw=1, alpha=0.8, color=colours(i % 20), label=k[len("val_r2_") :])
    if np.isfinite(col("val_r2")).any():
        ax_r2.plot(epochs, col("val_r2"), "k-", lw=2.5, label="mean")
        ax_r2.legend(fontsize="x-small", ncol=2)
    else:
        ax_r2.text(0.5, 0.5, "no held-out data", ha="center", va="center", transform=ax_r2.transAxes)
    ax_r2.set_xlabel("epoch")
    ax_r2.set_ylabel("held-out R² (linear within ±1, log beyond)")
    ax_r2.set_yscale("symlog", linthresh=1.0)
    ax_r2.set_title("held-out R² per variable (mean over levels)", fontsize="medium")
    ax_r2.axhline(0, color="grey", lw=0.5)
    ax_lr.plot(epochs, col("lr"), "o-", color="tab:green")
    ax_lr.set_xlabel("epoch")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_title("learning rate")
    for ax in (ax_loss, ax_r2, ax_lr):
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    save(fig, path)
