"""A stand-in emulator for example 03, exported through hybridge's public API:
8-level state_t, state_q0001, state_ps, pbuf_SOLIN -> ptend_t, ptend_q0001 (K/s, kg/kg/s).

    python make_emulator.py lonlat_emulator.pt
"""

import sys

import torch

import hybridge

NLEV = 8


class Emulator(torch.nn.Module):
    """Physical units in and out: normalization inside, small tendencies out."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.register_buffer("mean", torch.tensor([250.0] * NLEV + [5e-3] * NLEV + [1e5, 400.0]))
        self.register_buffer("scale", torch.tensor([50.0] * NLEV + [5e-3] * NLEV + [1e3, 500.0]))
        self.net = torch.nn.Sequential(
            torch.nn.Linear(2 * NLEV + 2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2 * NLEV)
        )
        self.register_buffer("out_scale", torch.tensor([1e-5] * NLEV + [1e-9] * NLEV))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.scale) * self.out_scale


if __name__ == "__main__":
    hybridge.export_model(
        Emulator(),
        sys.argv[1],
        name="lonlat_emulator",
        inputs=[
            {
                "name": "x",
                "layout": [
                    ("state_t", NLEV, "K"),
                    ("state_q0001", NLEV, "kg/kg"),
                    ("state_ps", 1, "Pa"),
                    ("pbuf_SOLIN", 1, "W/m2"),
                ],
            }
        ],
        outputs=[{"name": "y", "layout": [("ptend_t", NLEV, "K/s"), ("ptend_q0001", NLEV, "kg/kg/s")]}],
    )
