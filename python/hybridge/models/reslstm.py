"""Residual bidirectional LSTM over levels (the style of the LEAP Kaggle 2nd place).

Each level is a time step of the LSTM, its features the profile values plus the column
scalars. Stacked bidirectional layers with residual connections and LayerNorm; a per-level
head gives the profile tendencies, a head on the vertical mean gives the scalars.
"""

from __future__ import annotations

import torch
from torch import nn

from .layout import ColumnLayout
from .resmlp import _positive


class ResLSTM(nn.Module):
    """Residual bidirectional LSTM over the levels of a column."""

    def __init__(self, n_in: int, n_out: int, inputs, outputs, hidden: int = 128, layers: int = 3):
        super().__init__()
        _positive(hidden=hidden, layers=layers)
        self.layout = ColumnLayout(inputs, outputs)
        c_in = self.layout.n_prof_in + self.layout.n_scal_in
        self.inp = nn.Linear(c_in, 2 * hidden)
        self.lstms = nn.ModuleList(
            [nn.LSTM(2 * hidden, hidden, batch_first=True, bidirectional=True) for _ in range(layers)]
        )
        self.norms = nn.ModuleList([nn.LayerNorm(2 * hidden) for _ in range(layers)])
        self.prof_head = nn.Linear(2 * hidden, max(self.layout.n_prof_out, 1))
        self.scal_head = nn.Linear(2 * hidden, max(self.layout.n_scal_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(self.layout.with_scalars_per_level(x).transpose(1, 2))  # (ncol, nlev, 2*hidden)
        for lstm, norm in zip(self.lstms, self.norms):
            out, _ = lstm(h)
            h = norm(h + out)
        prof = self.prof_head(h).transpose(1, 2)[:, : self.layout.n_prof_out]
        scal = self.scal_head(h.mean(1))[:, : self.layout.n_scal_out]
        return self.layout.join(prof, scal)
