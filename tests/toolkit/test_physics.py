"""Physics inside the exported model: limiter, top zeroing, non-negative fluxes, water budget."""

import numpy as np
import pytest
import torch

from hybridge.data import V1, V2, find_pairs, load_grid, read_pair
from hybridge.physics import GRAVIT, LATVAP, RHOH2O, ColumnPhysics, PhysicsError


def _perturbed(climsim_data, varset):
    x, y = read_pair(find_pairs(climsim_data)[0], varset)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(0)
    # a poor emulator: errors three times the signal, so every constraint has work to do
    return x, y + 3 * torch.randn(y.shape, generator=g) * y.abs().mean(0)


@pytest.mark.parametrize("varset", [V1, V2], ids=["v1", "v2"])
def test_constraints_hold_and_water_budget_closes(climsim_data, varset):
    x, y = _perturbed(climsim_data, varset)
    phys = ColumnPhysics(varset, {})
    out = phys(x, y)
    assert torch.equal(torch.jit.script(phys)(x, y), out)
    xo, yo = varset.offsets("in"), varset.offsets("out")
    o = out.double().numpy()
    xd = x.double().numpy()
    water = [s for s in ("q0001", "q0002", "q0003") if "ptend_" + s in yo]
    for s in water:
        t = o[:, yo["ptend_" + s][0] :][:, :60]
        assert np.all(t[:, :12] == 0.0)  # top 12 levels zeroed
        q = xd[:, xo["state_" + s][0] :][:, :60] + 1200.0 * t
        assert q.min() > -1e-10  # q >= 0 up to float32 round-off
    for name, (off, _) in yo.items():
        if name.startswith("cam_out_"):
            assert o[:, off].min() >= 0.0, name
    precc, precsc = o[:, yo["cam_out_PRECC"][0]], o[:, yo["cam_out_PRECSC"][0]]
    assert np.all(precsc <= precc)
    mass = load_grid().dp(xd[:, xo["state_ps"][0]]) / GRAVIT
    gain = sum((o[:, yo["ptend_" + s][0] :][:, :60] * mass).sum(1) for s in water)
    evap = xd[:, xo["pbuf_LHFLX"][0]] / LATVAP
    residual = gain - (evap - RHOH2O * precc)
    # closes to float32 round-off of the 60-level sum (kg/m2/s; evaporation is ~3e-5)
    assert np.abs(residual).max() < 1e-5 * np.abs(evap).max()
    # without the constraint the same predictions break the budget by orders of magnitude more
    raw = y.double().numpy()
    raw_gain = sum((raw[:, yo["ptend_" + s][0] :][:, :60] * mass).sum(1) for s in water)
    assert (
        np.abs(raw_gain - (evap - RHOH2O * raw[:, yo["cam_out_PRECC"][0]])).max()
        > 1e3 * np.abs(residual).max()
    )


def test_constraints_leave_good_predictions_alone(climsim_data):
    x, y = read_pair(find_pairs(climsim_data)[0], V1)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    out = ColumnPhysics(V1, {"water_conservation": False, "zero_top_levels": 0})(x, y)
    assert torch.equal(out, y)  # the data already satisfy q >= 0 and non-negative fluxes


def test_physics_options_are_checked():
    with pytest.raises(PhysicsError, match="unknown physics option 'water'"):
        ColumnPhysics(V1, {"water": True})
    from hybridge.data.variables import VariableSet

    tonly = VariableSet("tonly", (("state_t", 60),), (("ptend_t", 60), ("ptend_q0001", 60)))
    with pytest.raises(PhysicsError, match="needs input state_ps, input pbuf_LHFLX, output cam_out_PRECC"):
        ColumnPhysics(tonly, {})
