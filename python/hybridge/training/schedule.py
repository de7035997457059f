"""Learning-rate schedules as functions of the epoch, so that a resumed run continues them.

The learning rate of epoch ``e`` (0-based) is computed from ``e`` and the run's total
``epochs``, not from a scheduler's internal step counter: resuming at epoch 20 of 20
continues exactly, and resuming with more epochs (``--epochs 25``) stretches the cosine over
the new total from where the run is (a note says so) instead of restarting it.

- ``cosine``: ``lr * (1 + cos(pi * e / epochs)) / 2`` (``CosineAnnealingLR`` with
  ``T_max = epochs``);
- ``step``: ``lr * gamma ** (e // lr_step_epochs)``;
- ``plateau``: ``lr * gamma ** k``, k the reductions so far: one more after every 2 epochs
  in a row without a validation improvement (the count is saved in the checkpoint);
- ``none``: ``lr``.
"""

from __future__ import annotations

import math


class LRSchedule:
    """The learning rate of each epoch; :meth:`state_dict` carries the plateau state."""

    def __init__(self, cfg: dict):
        self.kind, self.lr, self.epochs = cfg["lr_schedule"], float(cfg["lr"]), int(cfg["epochs"])
        self.step_epochs, self.gamma = int(cfg["lr_step_epochs"]), float(cfg["lr_gamma"])
        self.reductions, self.bad_epochs, self.best = 0, 0, math.inf

    def lr_at(self, epoch: int) -> float:
        """Learning rate of epoch ``epoch`` (0-based)."""
        if self.kind == "cosine":
            return self.lr * (1.0 + math.cos(math.pi * epoch / self.epochs)) / 2.0
        if self.kind == "step":
            return self.lr * self.gamma ** (epoch // self.step_epochs)
        if self.kind == "plateau":
            return self.lr * self.gamma**self.reductions
        return self.lr

    def apply(self, optimizer, epoch: int) -> float:
        """Set the optimizer's learning rate for ``epoch``; returns it."""
        lr = self.lr_at(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    def end_epoch(self, val_loss: float) -> None:
        """Record an epoch's validation loss (only the plateau schedule uses it)."""
        if val_loss < self.best:
            self.best, self.bad_epochs = val_loss, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= 2:
                self.reductions, self.bad_epochs = self.reductions + 1, 0

    def state_dict(self) -> dict:
        """What a checkpoint keeps to continue the schedule."""
        return {
            "kind": self.kind,
            "reductions": self.reductions,
            "bad_epochs": self.bad_epochs,
            "best": self.best,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from a checkpoint's :meth:`state_dict` (same kind of schedule)."""
        if state.get("kind") == self.kind:
            self.reductions, self.bad_epochs = int(state["reductions"]), int(state["bad_epochs"])
            self.best = float(state["best"])
