"""The public Python API (issue 17): ``import hybridge``, export any network with a manifest
in one call, read and validate manifests; the engine accepts what it writes."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import hybridge
from hybridge.core import Model

NLEV, NCOL, LAYERS, HIDDEN = 8, 5, 2, 16


class TwoInputGRU(nn.Module):
    """A hand-built recurrent emulator: a profile and surface fields in, a tendency out,
    GRU memory ``h [layers, ncol, hidden]`` (column axis 1) carried from step to step."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(NLEV + 3, HIDDEN, num_layers=LAYERS)
        self.head = nn.Linear(HIDDEN, NLEV)

    def forward(self, profile: torch.Tensor, surface: torch.Tensor, h: torch.Tensor):
        out, h_new = self.gru(torch.cat([profile, surface], 1).unsqueeze(0), h)
        return self.head(out[0]), h_new


DECLARATIONS = {
    "inputs": [
        {"name": "profile", "layout": [("state_t", NLEV, "K")]},
        {
            "name": "surface",
            "layout": [("state_ps", 1, "Pa"), ("pbuf_LHFLX", 1, "W/m2"), ("pbuf_SHFLX", 1, "W/m2")],
        },
    ],
    "outputs": [{"name": "tendency", "layout": [("ptend_t", NLEV, "K/s")]}],
    "states": [{"name": "h", "shape": [LAYERS, HIDDEN], "batch_axis": 1}],
}


def test_import_hybridge_is_light_and_exposes_the_api():
    code = "import sys, hybridge; print('torch' in sys.modules, 'export_model' in dir(hybridge))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["False", "True"]  # names resolve on first use
    for name in ("export_model", "export_checkpoint", "read_manifest", "validate_manifest", "register_model"):
        assert callable(getattr(hybridge, name)), name


def test_two_input_recurrent_network_exports_and_the_engine_runs_it(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "gru.pt"
    m = hybridge.export_model(TwoInputGRU(), path, name="two_input_gru", **DECLARATIONS)
    assert [s.name for s in m.inputs] == ["profile", "surface"] and m.states[0].batch_axis == 1
    assert m.inputs[1].variable("pbuf_LHFLX").units == "W/m2" and m.checksum.startswith("sha256:")
    assert hybridge.read_manifest(path) == m
    rng = np.random.default_rng(1)
    profile, surface = rng.normal(size=(NCOL, NLEV)), rng.normal(size=(NCOL, 3))
    scripted = torch.jit.load(str(path))
    h = torch.zeros(LAYERS, NCOL, HIDDEN)
    with Model(path) as engine:
        assert engine.manifest().states[0].shape == [LAYERS, HIDDEN]
        for _ in range(2):  # the second step starts from the state the first one left
            y = engine.run({"profile": profile, "surface": surface})["tendency"]
            with torch.no_grad():
                ref, h = scripted(torch.from_numpy(profile).float(), torch.from_numpy(surface).float(), h)
            np.testing.assert_array_equal(y, ref.double().numpy())
        np.testing.assert_array_equal(engine.get_state("h", NCOL), h.movedim(1, 0).double().numpy())


def test_an_already_scripted_model_and_example_inputs(tmp_path):
    torch.manual_seed(0)
    scripted = torch.jit.script(TwoInputGRU())
    example = {
        "profile": torch.ones(3, NLEV),
        "surface": torch.ones(3, 3),
        "h": torch.zeros(LAYERS, 3, HIDDEN),
    }
    m = hybridge.export_model(scripted, tmp_path / "s.pt", example_inputs=example, **DECLARATIONS)
    assert m.outputs[0].shape == [NLEV]


def test_declarations_that_do_not_fit_the_network_are_refused(tmp_path):
    wrong = {**DECLARATIONS, "states": [{"name": "h", "shape": [LAYERS, HIDDEN], "batch_axis": 0}]}
    with pytest.raises(hybridge.ManifestError, match="the forward failed on a probe batch of 8 columns"):
        hybridge.export_model(TwoInputGRU(), tmp_path / "x.pt", **wrong)
    short = {**DECLARATIONS, "outputs": [{"name": "tendency", "shape": [NLEV + 1]}]}
    with pytest.raises(
        hybridge.ManifestError, match=r"'tendency' has shape \[8, 8\], manifest says \[8, 9\]"
    ):
        hybridge.export_model(TwoInputGRU(), tmp_path / "x.pt", **short)
    assert not (tmp_path / "x.pt").exists()


def test_validate_manifest_names_the_problem():
    ok = hybridge.validate_manifest(
        {
            "inputs": [{"name": "x", "shape": [3]}],
            "outputs": [{"name": "y", "shape": [2]}],
            "schema": "hybridge-manifest/1",
        }
    )
    assert ok.inputs[0].batch_axis == 0
    with pytest.raises(hybridge.ManifestError, match=r"batch_axis 3 outside 0\.\.1"):
        hybridge.tensor_spec("h", [4], batch_axis=3)
    with pytest.raises(hybridge.ManifestError, match="tensor name 'x' used twice"):
        hybridge.validate_manifest(
            hybridge.Manifest(
                inputs=[hybridge.tensor_spec("x", [1])], outputs=[hybridge.tensor_spec("x", [1])]
            )
        )
