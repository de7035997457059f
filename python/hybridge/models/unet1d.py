"""1-D U-Net over the vertical: levels are the spatial axis, variables the channels.

Scalars are repeated on every level as extra channels. The levels (60 in ClimSim) are padded
to a multiple of 2**depth at the surface end; profile outputs come from the last decoder
level by level, scalar outputs from the vertical mean of the bottleneck and decoder.
"""

from __future__ import annotations

import torch
from torch import nn

from .layout import ColumnLayout
from .resmlp import _positive


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, 3, padding=1), nn.GELU(), nn.Conv1d(c_out, c_out, 3, padding=1), nn.GELU()
    )


class UNet1D(nn.Module):
    """1-D U-Net over the vertical (levels the spatial axis, variables the channels)."""

    def __init__(self, n_in: int, n_out: int, inputs, outputs, channels: int = 64, depth: int = 2):
        super().__init__()
        _positive(channels=channels, depth=depth)
        self.layout = ColumnLayout(inputs, outputs)
        nlev = self.layout.nlev
        self.pad = (-nlev) % (2**depth)
        c_in = self.layout.n_prof_in + self.layout.n_scal_in
        widths = [channels * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        prev = c_in
        for w in widths[:-1]:
            self.down.append(_conv_block(prev, w))
            prev = w
        self.bottom = _conv_block(prev, widths[-1])
        self.up = nn.ModuleList()
        self.upconv = nn.ModuleList()
        prev = widths[-1]
        for w in reversed(widths[:-1]):
            self.upconv.append(nn.ConvTranspose1d(prev, w, 2, stride=2))
            self.up.append(_conv_block(2 * w, w))
            prev = w
        self.prof_head = nn.Conv1d(channels, max(self.layout.n_prof_out, 1), 1)
        self.scal_head = nn.Linear(channels + widths[-1], max(self.layout.n_scal_out, 1))
        self.pool = nn.MaxPool1d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.pad(self.layout.with_scalars_per_level(x), (0, self.pad), mode="replicate")
        skips = []
        for block in self.down:
            h = block(h)
            skips.append(h)
            h = self.pool(h)
        h = self.bottom(h)
        bottom_mean = h.mean(2)
        for i, (upconv, block) in enumerate(zip(self.upconv, self.up)):
            h = upconv(h)
            h = block(torch.cat([h, skips[len(skips) - 1 - i]], 1))
        h = h[:, :, : self.layout.nlev]
        prof = self.prof_head(h)[:, : self.layout.n_prof_out]
        scal = self.scal_head(torch.cat([h.mean(2), bottom_mean], 1))[:, : self.layout.n_scal_out]
        return self.layout.join(prof, scal)
