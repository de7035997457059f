"""The ClimSim baseline MLP: dense layers with LeakyReLU(0.15) on the flat column vector."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """The ClimSim baseline MLP: dense layers with LeakyReLU(0.15)."""

    def __init__(self, n_in: int, n_out: int, hidden=(768, 640, 512, 640, 640), inputs=None, outputs=None):
        super().__init__()
        hidden = [hidden] if isinstance(hidden, int) else hidden
        if not isinstance(hidden, (list, tuple)) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden
        ):
            raise ValueError(f"hidden must be positive integer widths, got {hidden!r}")
        layers, width = [], n_in
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.LeakyReLU(0.15)]
            width = int(h)
        layers.append(nn.Linear(width, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
