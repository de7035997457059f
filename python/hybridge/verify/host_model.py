"""A physically tame recurrent emulator for the host-model rows (REP, ERS, PEM, PET).

Random weights would wreck the host's climate within a few steps, so this model follows
simple formulas in the ClimSim v1 layout: temperature relaxes towards the ClimSim mean
profile, humidity is left alone, the surface fluxes follow the insolation, and a recurrent
state ``h`` [2, 4] (column axis 1, like a GRU's hidden state) accumulates the insolation
and feeds back into ``ptend_t``, so a restart that lost ``h`` changes the results. One
small linear layer runs on every column, so the results also depend on matrix-product
kernels (and may depend on batch shape and thread count, which is what PEM/PET check).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hybridge.manifest import Manifest, TensorSpec, layout_from_sizes
from hybridge.testing.models import (
    NLEV,
    V1_INPUT_LAYOUT,
    V1_NINPUT,
    V1_OUTPUT_LAYOUT,
    v1_normalization,
    write_model,
)

TAU_RELAX_S = 10 * 86400.0  # relaxation time of temperature, s
NETSW_FRACTION = 0.6  # net surface shortwave / insolation


class _RelaxRecurrent(torch.nn.Module):
    def __init__(self, t_ref_k: np.ndarray, input_mean: np.ndarray, input_range: np.ndarray):
        super().__init__()
        self.register_buffer("t_ref", torch.tensor(t_ref_k, dtype=torch.float32))
        self.register_buffer("input_mean", torch.tensor(input_mean, dtype=torch.float32))
        self.register_buffer("input_range", torch.tensor(input_range, dtype=torch.float32))
        torch.manual_seed(0)
        self.mix = torch.nn.Linear(V1_NINPUT, NLEV)
        with torch.no_grad():
            self.mix.weight.mul_(1e-2)
        self.nlev = NLEV

    def forward(self, x: torch.Tensor, h: torch.Tensor):
        n = self.nlev
        t = x[:, :n]
        solin = x[:, 2 * n + 1 : 2 * n + 2]
        h_new = 0.95 * h + 0.05 * (solin / 1361.0).unsqueeze(0)  # h: [2, ncol, 4]
        x_norm = (x - self.input_mean) / self.input_range
        ptend_t = (
            -(t - self.t_ref) / 864000.0
            + 1e-7 * torch.tanh(self.mix(x_norm))
            + 1e-6 * (h_new[0, :, :1] - 0.5 * h_new[1, :, 1:2])
        )
        zero = torch.zeros_like(solin)
        y = torch.cat(
            [
                ptend_t,
                torch.zeros_like(t),
                0.6 * solin,
                0.8 * 5.67e-8 * t[:, n - 1 : n] ** 4,
                zero,
                torch.full_like(solin, 3.0e-8),
                0.2 * solin,
                0.2 * solin,
                0.1 * solin,
                0.1 * solin,
            ],
            dim=1,
        )
        return y, h_new


def make_host_model(path: Path, format: str = "torchscript") -> Path:
    """Write the model with its manifest (ClimSim v1 input/output layout, state h), as
    TorchScript or as a .pt2 package (``format="pt2"``)."""
    stats = v1_normalization()
    t_ref_k = stats["input_mean"][:NLEV]
    module = _RelaxRecurrent(t_ref_k, stats["input_mean"], stats["input_range"]).eval()
    manifest = Manifest(
        name="verify_relax_recurrent",
        inputs=[TensorSpec("x", [V1_NINPUT], layout=layout_from_sizes(V1_INPUT_LAYOUT))],
        outputs=[
            TensorSpec(
                "y", [sum(n for _, n, _ in V1_OUTPUT_LAYOUT)], layout=layout_from_sizes(V1_OUTPUT_LAYOUT)
            )
        ],
        states=[TensorSpec("h", [2, 4], batch_axis=1)],
        provenance={"made_by": "hybridge.verify.host_model.make_host_model"},
    )
    write_model(module, manifest, path, format)
    return Path(path)
