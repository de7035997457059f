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
CLIMSIM_NLEV = 60  # the default zero_top_levels (12) is ClimSim's, for its 60 levels
_WATER = ("q0001", "q0002", "q0003")
_SWITCHES = ("q_nonneg", "nonneg_fluxes", "water_conservation")


class PhysicsError(ValueError):
    """A physics option has a bad value or cannot be applied to this variable set."""


def physics_options(overrides: dict | None = None) -> dict:
    """The defaults updated with ``overrides``, every value checked (types and signs); an
    unknown option or a bad value is a :class:`PhysicsError` naming it."""
    opts = dict(DEFAULT_OPTIONS)
    for k, v in (overrides or {}).items():
        if k not in DEFAULT_OPTIONS:
            raise PhysicsError(f"unknown physics option {k!r}; known: {sorted(DEFAULT_OPTIONS)}")
        opts[k] = v
    for k in _SWITCHES:
        if not isinstance(opts[k], bool):
            raise PhysicsError(f"physics option {k} must be true or false, got {opts[k]!r}")
    dt = opts["dt"]
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not (dt > 0 and dt < float("inf")):
        raise PhysicsError(f"physics option dt must be a positive number of seconds, got {dt!r}")
    opts["dt"] = float(dt)
    ntop = opts["zero_top_levels"]
    if isinstance(ntop, bool) or not isinstance(ntop, int) or ntop < 0:
        raise PhysicsError(f"physics option zero_top_levels must be an integer >= 0, got {ntop!r}")
    names = opts["zero_top_variables"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise PhysicsError(f"physics option zero_top_variables must be a list of output names, got {names!r}")
    return opts


def resolve_physics(varset: VariableSet, requested: dict | None = None, has_grid: bool = True):
    """The physics options that apply to ``varset``: ``(options, notes)``.

    ``requested`` are the options asked for explicitly (training config, ``--physics``);
    the others take their defaults. A default whose variables are missing is switched off
    and a note says so; an explicit request that cannot apply is a :class:`PhysicsError`
    naming what is missing. ``has_grid``: hybrid coefficients for the profiles' levels are
    known (water conservation needs the layer masses). ``options["active"]`` is False when
    nothing applies: the exported model then has no physics module at all."""
    requested = dict(requested or {})
    opts = physics_options(requested)
    notes: list[str] = []
    xin, yout = varset.offsets("in"), varset.offsets("out")

    def off(key: str, why: str) -> None:
        if requested.get(key):
            raise PhysicsError(f"physics option {key} cannot apply to variable set {varset.name!r}: {why}")
        opts[key] = 0 if key == "zero_top_levels" else False
        notes.append(f"{key}: off ({why})")

    zeroed = [n for n in opts["zero_top_variables"] if n in yout]
    if opts["zero_top_levels"] > 0:
        if not zeroed:
            off("zero_top_levels", "no output among " + ", ".join(opts["zero_top_variables"]))
        else:
            nlev = min(yout[n][1] for n in zeroed)
            if "zero_top_levels" in requested and opts["zero_top_levels"] > nlev:
                raise PhysicsError(
                    f"physics option zero_top_levels must be between 0 and {nlev} (the levels of "
                    f"{', '.join(zeroed)}), got {opts['zero_top_levels']}"
                )
            if "zero_top_levels" not in requested and nlev != CLIMSIM_NLEV:
                off("zero_top_levels", f"the default 12 is ClimSim's, for 60 levels; the outputs have {nlev}")
    if opts["q_nonneg"] and not any("ptend_" + s in yout and "state_" + s in xin for s in _WATER):
        off("q_nonneg", "no ptend_qXXXX output with its state_qXXXX input")
    if opts["nonneg_fluxes"] and not any(n.startswith("cam_out_") for n in yout):
        off("nonneg_fluxes", "no cam_out_* output")
    if opts["water_conservation"]:
        need = [("input", "state_ps", xin), ("input", "pbuf_LHFLX", xin)]
        need += [("output", "cam_out_PRECC", yout), ("output", "ptend_q0001", yout)]
        missing = [f"{role} {n}" for role, n, d in need if n not in d]
        if missing:
            off("water_conservation", "needs " + ", ".join(missing))
        elif not has_grid:
            off(
                "water_conservation",
                f"no hybrid coefficients (hyai, hybi) for {yout['ptend_q0001'][1]} levels",
            )
    opts["active"] = bool(opts["zero_top_levels"] > 0 or any(opts[k] for k in _SWITCHES))
    return opts, notes


class NoPhysics(nn.Module):
    """``forward(x, y) -> y``: the bare network's outputs, for a model without physics."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y


class ColumnPhysics(nn.Module):
    """``forward(x, y) -> y``: x inputs and y outputs of a column, physical units.

    ``options`` as :func:`resolve_physics` returns them; ``hyai``/``hybi`` the interface
    hybrid coefficients of the profiles' levels (ClimSim's by default)."""

    # declared here (evaluated, no __future__ annotations): TorchScript cannot type an
    # attribute that is an empty list
    zero_top: list[tuple[int, int]]
    water: list[tuple[int, int, int]]
    fluxes: list[int]

    def __init__(self, varset: VariableSet, options: dict, hyai=None, hybi=None):
        super().__init__()
        opts = {k: v for k, v in options.items() if k != "active"}
        opts = physics_options(opts)
        xin, yout = varset.offsets("in"), varset.offsets("out")
        self.dt = float(opts["dt"])
        self.ntop = int(opts["zero_top_levels"])
        self.zero_top = [yout[n] for n in opts["zero_top_variables"] if n in yout]
        # (state offset or -1, tendency offset, nlev) for each water species predicted
        self.water = [
            (
                xin["state_" + s][0] if "state_" + s in xin else -1,
                yout["ptend_" + s][0],
                yout["ptend_" + s][1],
            )
            for s in _WATER
            if "ptend_" + s in yout
        ]
        self.q_nonneg = bool(opts["q_nonneg"])
        self.fluxes = [off for n, (off, _) in yout.items() if n.startswith("cam_out_")]
        self.nonneg_fluxes = bool(opts["nonneg_fluxes"])
        self.water_conservation = bool(opts["water_conservation"])
        self.i_ps, self.i_lhflx, self.i_precc, self.i_precsc = -1, -1, -1, -1
        nlev = max([n for _, _, n in self.water] + [1])
        if hyai is None or hybi is None:
            grid = load_grid()
            hyai, hybi = grid.hyai, grid.hybi
        hyai, hybi = torch.as_tensor(hyai, dtype=torch.float64), torch.as_tensor(hybi, dtype=torch.float64)
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
            if hyai.numel() != nlev + 1:
                raise PhysicsError(
                    f"moisture tendencies have {nlev} levels, the hybrid coefficients {hyai.numel() - 1}"
                )
        self.register_buffer("dA_P0", (hyai[1:] - hyai[:-1]) * P0)
        self.register_buffer("dB", hybi[1:] - hybi[:-1])
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
