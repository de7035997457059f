"""Small, physically tame emulators for the host's ML and partial modes, saved with their
hybridge manifest (ClimSim v1 layout). Random-weight networks would wreck the climate in a
few steps; these follow simple formulas, so a test can check what the host did with them.

    relax_v1      x[124] -> y[128]: ptend_t relaxes T towards the ClimSim mean profile over
                  TAU_RELAX; ptend_q0001 = 0; cam_out_NETSW = NETSW_FRACTION * SOLIN, ...
    recurrent_v1  the same plus a recurrent state h [2, 4] (column axis 1, like a GRU's hidden
                  state) that accumulates SOLIN; ptend_t depends on h, so a restart that lost
                  h would change the results.
    nan_at_night  relax_v1, but every output is NaN in columns with SOLIN == 0.
    runaway       relax_v1 plus 0.1 K/s of heating everywhere: T leaves [150, 350] K in one step.

make(..., training=...) records training ranges in the manifest (what the guard, ml_guard,
checks the columns against).
"""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import torch

from hybridge.manifest import Manifest, TensorSpec, layout_from_sizes, save_model

NLEV = 60
TAU_RELAX = 10 * 86400.0
NETSW_FRACTION = 0.6
PRECC = 3.0e-8  # m/s
INPUTS = [
    ("state_t", NLEV, "K"),
    ("state_q0001", NLEV, "kg/kg"),
    ("state_ps", 1, "Pa"),
    ("pbuf_SOLIN", 1, "W/m2"),
    ("pbuf_LHFLX", 1, "W/m2"),
    ("pbuf_SHFLX", 1, "W/m2"),
]
OUTPUTS = [
    ("ptend_t", NLEV, "K/s"),
    ("ptend_q0001", NLEV, "kg/kg/s"),
    ("cam_out_NETSW", 1, "W/m2"),
    ("cam_out_FLWDS", 1, "W/m2"),
    ("cam_out_PRECSC", 1, "m/s"),
    ("cam_out_PRECC", 1, "m/s"),
    ("cam_out_SOLS", 1, "W/m2"),
    ("cam_out_SOLL", 1, "W/m2"),
    ("cam_out_SOLSD", 1, "W/m2"),
    ("cam_out_SOLLD", 1, "W/m2"),
]


class _Relax(torch.nn.Module):
    def __init__(self, t_ref: np.ndarray, nan_at_night: bool):
        super().__init__()
        self.register_buffer("t_ref", torch.tensor(t_ref, dtype=torch.float32))
        self.nan_at_night = nan_at_night
        self.nlev = NLEV
        self.tau_relax = TAU_RELAX
        self.netsw_fraction = NETSW_FRACTION
        self.precc = PRECC

    def outputs(self, x: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        n = self.nlev
        t = x[:, :n]
        solin = x[:, 2 * n + 1 : 2 * n + 2]
        ptend_t = -(t - self.t_ref) / self.tau_relax + extra
        ptend_q = torch.zeros_like(t)
        netsw = self.netsw_fraction * solin
        flwds = 0.8 * 5.67e-8 * t[:, n - 1 : n] ** 4
        precc = torch.full_like(solin, self.precc)
        y = torch.cat(
            [
                ptend_t,
                ptend_q,
                netsw,
                flwds,
                torch.zeros_like(solin),
                precc,
                0.2 * solin,
                0.2 * solin,
                0.1 * solin,
                0.1 * solin,
            ],
            dim=1,
        )
        if self.nan_at_night:
            y = torch.where(solin > 0, y, torch.full_like(y, float("nan")))
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outputs(x, torch.zeros_like(x[:, :1]))


class _Runaway(_Relax):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outputs(x, torch.full_like(x[:, :1], 0.1))


class _Recurrent(_Relax):
    def forward(self, x: torch.Tensor, h: torch.Tensor):
        solin = x[:, 2 * self.nlev + 1]
        h_new = 0.95 * h + 0.05 * (solin / 1361.0).unsqueeze(0).unsqueeze(-1)  # h: [2, ncol, 4]
        extra = 1e-6 * (h_new[0, :, :1] - h_new[1, :, 1:2] * 0.5)
        return self.outputs(x, extra), h_new


def _t_ref(climsim_dir: Path) -> np.ndarray:
    with netCDF4.Dataset(climsim_dir / "input_mean.nc") as m:
        return np.asarray(m["state_t"][:], dtype=np.float32)


def make(kind: str, path: Path, climsim_dir: Path, training: dict | None = None) -> Path:
    """training: {"x": {min, max, mean, std}, "y": {...}} per value of a column, or None."""
    training = training or {}
    t_ref = _t_ref(climsim_dir)
    states = []
    if kind == "recurrent_v1":
        module = _Recurrent(t_ref, nan_at_night=False)
        states = [TensorSpec("h", [2, 4], batch_axis=1)]
    elif kind == "runaway":
        module = _Runaway(t_ref, nan_at_night=False)
    else:
        module = _Relax(t_ref, nan_at_night=kind == "nan_at_night")
    manifest = Manifest(
        name=kind,
        inputs=[TensorSpec("x", [124], layout=layout_from_sizes(INPUTS), training=training.get("x"))],
        outputs=[TensorSpec("y", [128], layout=layout_from_sizes(OUTPUTS), training=training.get("y"))],
        states=states,
        provenance={"made_by": "tests/host/ml_fixtures.py", "kind": kind},
    )
    save_model(torch.jit.script(module.eval()), manifest, path)
    return path
