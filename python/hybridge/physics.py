"""Physical constraints applied inside the exported model, in physical units.

Constants are those of DESIGN.md (E3SM/ClimSim). Options (recorded in the manifest):

``zero_top_levels`` / ``zero_top_variables``
    set the tendencies of the named variables to zero on the top levels, as ClimSim
    does for the moisture tendencies on the 12 top levels, where the data hold only noise.
``q_nonneg``
    limit every ``ptend_qXXXX`` with a matching ``state_qXXXX`` input so that
    ``q + dt * ptend_q >= 0`` after the step.
``nonneg_fluxes``
    precipitation and radiative fluxes (the ``cam_out_*`` outputs) are ``>= 0``.
``water_conservation``
    water conservation by construction (Beucler et al. 2021, PRL 126, 098302): the
    surface precipitation is not taken from the network but derived from the predicted
    moisture tendencies and the latent heat flux, so that the column water budget

        sum_k sum_s ptend_s[k] * dp[k] / g  =  LHFLX / Lv  -  rho_w * PRECC

    closes to float32 round-off. Units: ptend_s kg/kg/s (s = q0001 vapour and, when
    predicted, q0002 liquid and q0003 ice), dp Pa, g m/s2 -> kg/m2/s; LHFLX W/m2 and
    Lv J/kg -> kg/m2/s (evaporation); rho_w kg/m3 times PRECC m/s -> kg/m2/s. PRECC is
    the total convective precipitation (liquid + ice) and PRECSC, its snow part, is
    clipped to [0, PRECC]. dp[k] = (hyai[k+1]-hyai[k]) * P0 + (hybi[k+1]-hybi[k]) * PS.
    A predicted moistening larger than the evaporation would need negative
    precipitation: the positive tendencies are then scaled down, and if the column
    still gains more water than evaporates (surface deposition, LHFLX < 0) the
    remaining water ``q + dt*ptend`` is removed in proportion on the levels below the
    zeroed top, which keeps q >= 0. Only a column with no water left cannot close.
"""

from __future__ import annotations

import torch
from torch import nn

from .data.climsim import P0, load_grid
from .data.variables import VariableSet

GRAVIT = 9.80616  # m/s2
CPAIR = 1004.64  # J/kg/K
LATVAP = 2.501e6  # J/kg
LATICE = 3.337e5  # J/kg
RDAIR = 287.0  # J/kg/K
RH2O = 461.0  # J/kg/K
RHOH2O = 1000.0  # kg/m3, density of liquid water (precipitation rate in m/s)

DEFAULT_OPTIONS = {
    "dt": 1200.0,
    "zero_top_levels": 12,
    "zero_top_variables": ["ptend_q0001", "ptend_q0002", "ptend_q0003"],
    "q_nonneg": True,
    "nonneg_fluxes": True,
    "water_conservation": True,
}
_WATER = ("q0001", "q0002", "q0003")


class PhysicsError(ValueError):
    """A physics option cannot be applied to this variable set."""


def physics_options(overrides: dict | None = None) -> dict:
    opts = dict(DEFAULT_OPTIONS)
    for k, v in (overrides or {}).items():
        if k not in DEFAULT_OPTIONS:
            raise PhysicsError(f"unknown physics option {k!r}; known: {sorted(DEFAULT_OPTIONS)}")
        opts[k] = v
    opts["dt"] = float(opts["dt"])
    return opts


class ColumnPhysics(nn.Module):
    """``forward(x, y) -> y``: x inputs and y outputs of a column, physical units."""

    def __init__(self, varset: VariableSet, options: dict):
        super().__init__()
        opts = physics_options(options)
        xin, yout = varset.offsets("in"), varset.offsets("out")
        self.dt = float(opts["dt"])
        self.ntop = int(opts["zero_top_levels"])
        self.zero_top: list[tuple[int, int]] = [yout[n] for n in opts["zero_top_variables"] if n in yout]
        # (state offset or -1, tendency offset, nlev) for each water species predicted
        self.water: list[tuple[int, int, int]] = [
            (
                xin["state_" + s][0] if "state_" + s in xin else -1,
                yout["ptend_" + s][0],
                yout["ptend_" + s][1],
            )
            for s in _WATER
            if "ptend_" + s in yout
        ]
        self.q_nonneg = bool(opts["q_nonneg"])
        self.fluxes: list[int] = [off for n, (off, _) in yout.items() if n.startswith("cam_out_")]
        self.nonneg_fluxes = bool(opts["nonneg_fluxes"])
        self.water_conservation = bool(opts["water_conservation"])
        self.i_ps, self.i_lhflx, self.i_precc, self.i_precsc = -1, -1, -1, -1
        nlev = max([n for _, _, n in self.water] + [1])
        if self.water_conservation:
            need = [
                ("input", "state_ps", xin),
                ("input", "pbuf_LHFLX", xin),
                ("output", "cam_out_PRECC", yout),
                ("output", "ptend_q0001", yout),
            ]
            missing = [f"{role} {n}" for role, n, d in need if n not in d]
            if missing:
                raise PhysicsError(
                    "water_conservation needs " + ", ".join(missing) + f" in variable set {varset.name!r}"
                )
            self.i_ps, self.i_lhflx = xin["state_ps"][0], xin["pbuf_LHFLX"][0]
            self.i_precc = yout["cam_out_PRECC"][0]
            self.i_precsc = yout["cam_out_PRECSC"][0] if "cam_out_PRECSC" in yout else -1
        grid = load_grid()
        if self.water_conservation and grid.nlev != nlev:
            raise PhysicsError(f"moisture tendencies have {nlev} levels, the grid has {grid.nlev}")
        self.register_buffer("dA_P0", torch.tensor(grid.hyai[1:] - grid.hyai[:-1]) * P0)
        self.register_buffer("dB", torch.tensor(grid.hybi[1:] - grid.hybi[:-1]))
        self.options = opts
        self.gravit, self.latvap, self.rhoh2o = GRAVIT, LATVAP, RHOH2O

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y = y.clone()
        if self.ntop > 0:
            for off, size in self.zero_top:
                y[:, off : off + min(self.ntop, size)] = 0.0
        if self.q_nonneg:
            for xs, yt, n in self.water:
                if xs >= 0:
                    floor = -x[:, xs : xs + n] / self.dt  # ptend that empties the level
                    y[:, yt : yt + n] = torch.maximum(y[:, yt : yt + n], floor)
        if self.nonneg_fluxes:
            for off in self.fluxes:
                y[:, off] = torch.clamp(y[:, off], min=0.0)
        if self.water_conservation:
            y = self._conserve_water(x, y)
        return y

    def _column_water_tendency(self, y: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
        total = torch.zeros_like(y[:, 0])
        for _, yt, n in self.water:
            total = total + (y[:, yt : yt + n] * mass).sum(1)
        return total  # kg/m2/s

    def _conserve_water(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        dp = self.dA_P0.to(x.dtype) + self.dB.to(x.dtype) * x[:, self.i_ps : self.i_ps + 1]
        mass = dp / self.gravit  # kg/m2 per level
        evap = x[:, self.i_lhflx] / self.latvap  # kg/m2/s
        precip = evap - self._column_water_tendency(y, mass)
        # 1) too much moistening: scale the positive tendencies down
        moistening = torch.zeros_like(evap)
        for _, yt, n in self.water:
            moistening = moistening + (torch.clamp(y[:, yt : yt + n], min=0.0) * mass).sum(1)
        excess = torch.clamp(-precip, min=0.0)
        keep = (
            torch.where(
                moistening > 0,
                1.0 - excess / torch.where(moistening > 0, moistening, torch.ones_like(moistening)),
                torch.ones_like(moistening),
            )
            .clamp(0.0, 1.0)
            .unsqueeze(1)
        )
        for _, yt, n in self.water:
            t = y[:, yt : yt + n]
            y[:, yt : yt + n] = torch.where(t > 0, t * keep, t)
        # 2) still a net gain (LHFLX < 0): dry the levels below the zeroed top in proportion
        precip = evap - self._column_water_tendency(y, mass)
        excess = torch.clamp(-precip, min=0.0)
        left = torch.zeros_like(evap)
        for xs, yt, n in self.water:
            if xs >= 0:
                water = (x[:, xs : xs + n] + self.dt * y[:, yt : yt + n])[:, self.ntop :]
                left = left + (water * mass[:, self.ntop :]).sum(1) / self.dt
        frac = (excess / torch.where(left > 0, left, torch.ones_like(left))).clamp(0.0, 1.0)
        for xs, yt, n in self.water:
            if xs >= 0:
                water = x[:, xs + self.ntop : xs + n] + self.dt * y[:, yt + self.ntop : yt + n]
                y[:, yt + self.ntop : yt + n] = (
                    y[:, yt + self.ntop : yt + n] - frac.unsqueeze(1) * water / self.dt
                )
        precip = evap - self._column_water_tendency(y, mass)
        # the clamp only removes round-off negatives (|P| ~ 1e-14 m/s) of a closed budget
        y[:, self.i_precc] = torch.clamp(precip, min=0.0) / self.rhoh2o  # m/s
        if self.i_precsc >= 0:
            y[:, self.i_precsc] = torch.minimum(torch.clamp(y[:, self.i_precsc], min=0.0), y[:, self.i_precc])
        return y
