"""Residual MLP: pre-norm residual blocks (LayerNorm, Linear, GELU, Linear) on the column vector."""

from __future__ import annotations

import torch
from torch import nn


class ResBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(), nn.Linear(width, width)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResMLP(nn.Module):
    """Residual MLP: pre-norm residual blocks on the column vector."""

    def __init__(self, n_in: int, n_out: int, width: int = 512, blocks: int = 4, inputs=None, outputs=None):
        super().__init__()
        _positive(width=width, blocks=blocks)
        self.inp = nn.Linear(n_in, width)
        self.blocks = nn.Sequential(*[ResBlock(width) for _ in range(blocks)])
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(self.inp(x)))


def _positive(**sizes) -> None:
    for k, v in sizes.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{k} must be a positive integer, got {v!r}")
