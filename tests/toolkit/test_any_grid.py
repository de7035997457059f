"""Any grid, any variable set (issue 17): 8 levels, 1,000 columns, no cam_out_* outputs,
through train, export, inspect and evaluate; data that do not fit are named."""

import csv

import netCDF4
import numpy as np
import pytest
import torch

from hybridge.cli import main as cli_main
from hybridge.core import Model
from hybridge.data import DataError, VariableSetError, find_pairs, get_variable_set
from hybridge.data.files import check_pair
from hybridge.data.synthetic import GRID_FILE, write_climsim_dataset
from hybridge.manifest import read_manifest

NCOL, NLEV = 1000, 8
VARIABLES = """
name: t_and_q_8
nlev: 8
inputs: [state_t, state_q0001, state_ps, pbuf_SOLIN, pbuf_LHFLX]
outputs: [ptend_t, ptend_q0001]
"""


@pytest.fixture(scope="module")
def grid8(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid8")
    write_climsim_dataset(root / "data", n_steps=6, ncol=NCOL, nlev=NLEV, seed=3)
    (root / "vars.yaml").write_text(VARIABLES)
    return root


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_synthetic_data_on_another_grid(grid8):
    pair = find_pairs(grid8 / "data")[0]
    with netCDF4.Dataset(pair.mli) as d:
        assert d.dimensions["ncol"].size == NCOL and d.dimensions["lev"].size == NLEV
    with netCDF4.Dataset(grid8 / "data" / GRID_FILE) as g:
        assert g["hyai"].size == NLEV + 1 and g["area"].size == NCOL
    assert check_pair(pair, get_variable_set(str(grid8 / "vars.yaml"))) == NCOL


def test_train_export_inspect_evaluate_on_8_levels_and_1000_columns(grid8, tmp_path, capsys):
    data, grid = grid8 / "data", grid8 / "data" / GRID_FILE
    run, model = tmp_path / "run", tmp_path / "model.pt"
    rc = cli_main(
        [
            "train",
            "--data",
            str(data),
            "--out",
            str(run),
            "--variables",
            str(grid8 / "vars.yaml"),
            "--epochs",
            "2",
            "--batch-size",
            "500",
            "--no-progress",
            "--set",
            "val_fraction=0.34",
            "--set",
            "model_options={hidden: [32]}",
            "--set",
            f"grid={grid}",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "normalization: data (variable set 't_and_q_8' is not ClimSim's" in out
    assert cli_main(["export", str(run / "best.pt"), "-o", str(model)]) == 0
    out = capsys.readouterr().out
    assert (
        "physics: zero_top_levels: off (the default 12 is ClimSim's, for 60 levels; the outputs have 8)"
        in out
    )
    assert "physics: nonneg_fluxes: off (no cam_out_* output)" in out
    assert "physics: water_conservation: off (needs output cam_out_PRECC)" in out
    m = read_manifest(model)
    assert m.inputs[0].shape == [2 * NLEV + 3] and m.outputs[0].shape == [2 * NLEV]
    assert m.physics["q_nonneg"] is True and m.physics["water_conservation"] is False
    assert cli_main(["export", str(run / "best.pt"), "-o", str(tmp_path / "bare.pt"), "--no-physics"]) == 0
    assert cli_main(["inspect", str(model), "--ncol", "1000"]) == 0
    assert (
        "dry batch of 1000 columns (the model's training means): ok, y[1000, 16]" in capsys.readouterr().out
    )
    ev = tmp_path / "ev"
    assert cli_main(["evaluate", str(model), str(data), "-o", str(ev), "--grid", str(grid)]) == 0
    md = (ev / "metrics.md").read_text()
    assert f"column weights: grid file {grid}" in md and "2 held-out time steps" in md
    levels = _rows(ev / "metrics_by_level.csv")
    assert [r["variable"] for r in levels] == ["ptend_t"] * NLEV + ["ptend_q0001"] * NLEV
    assert float(levels[-1]["pressure_hpa"]) > 900.0 and float(levels[0]["pressure_hpa"]) < 100.0
    assert (ev / "r2_by_level.png").exists() and not (ev / "scalars.png").exists()
    # without a grid file: uniform weights, and the report says so
    assert cli_main(["evaluate", str(model), str(data), "-o", str(tmp_path / "ev2")]) == 0
    assert (
        "column weights: uniform column weights (no grid file given)"
        in (tmp_path / "ev2" / "metrics.md").read_text()
    )
    # the engine loads it and gives the bits Python gives
    x = np.random.default_rng(0).normal(size=(NCOL, 2 * NLEV + 3))
    x = (x * 0.1 + 1.0) * torch.jit.load(str(model)).x_mean.double().numpy()
    with Model(model) as engine:
        y = engine.run({"x": x})["y"]
    with torch.no_grad():
        ref = torch.jit.load(str(model))(torch.from_numpy(x).float()).double().numpy()
    np.testing.assert_array_equal(y, ref)


def test_a_variable_missing_from_the_data_is_named(grid8, tmp_path, capsys):
    bad = tmp_path / "vars.yaml"
    bad.write_text(VARIABLES.replace("pbuf_LHFLX]", "pbuf_LHFLX, pbuf_TYPO]"))
    rc = cli_main(
        [
            "train",
            "--data",
            str(grid8 / "data"),
            "--out",
            str(tmp_path / "r"),
            "--variables",
            str(bad),
            "--set",
            "val_fraction=0.34",
        ]
    )
    assert rc == 1
    err = capsys.readouterr().err
    assert "E3SM-MMF.mli.0001-02-01-00000.nc: variable 'pbuf_TYPO' not found (file has:" in err
    assert not (tmp_path / "r").exists()  # refused before any work


def test_files_with_another_nlev_are_named(grid8, tmp_path):
    data = tmp_path / "mixed"
    write_climsim_dataset(data, n_steps=2, ncol=50, nlev=NLEV, seed=1)
    write_climsim_dataset(data, n_steps=1, ncol=50, nlev=10, seed=1, start="0001-02-01-02400")
    varset = get_variable_set(str(grid8 / "vars.yaml"))
    pairs = find_pairs(data)
    check_pair(pairs[0], varset)
    with pytest.raises(
        DataError, match=r"mli\.0001-02-01-02400\.nc: variable 'state_t' has 10 levels, the variable set"
    ):
        check_pair(pairs[2], varset)


def test_variable_set_spec_errors_are_named(tmp_path):
    spec = tmp_path / "v.yaml"
    spec.write_text("inputs: [state_t]\noutputs: [ptend_t]\nnlev: one\n")
    with pytest.raises(VariableSetError, match="nlev must be an integer >= 2, got 'one'"):
        get_variable_set(str(spec))
    spec.write_text("inputs: [state_t\n")
    with pytest.raises(VariableSetError, match="not valid YAML"):
        get_variable_set(str(spec))
