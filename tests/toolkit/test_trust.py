"""Training and evaluation a researcher can trust (issue 19): held-out scoring, resumed
schedules, protected run folders, logs without a terminal, custom models, figures."""

import csv
import math
import struct
import subprocess
import sys

import pytest
import yaml

from hybridge.checkpoint import load_checkpoint
from hybridge.cli import main as cli_main
from hybridge.data import find_pairs
from hybridge.evaluation import evaluate
from hybridge.manifest import read_manifest

SMALL = ["--batch-size", "256", "--no-progress", "--set", "model_options={hidden: [32]}"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _train(data, out, epochs, *extra):
    return cli_main(
        ["train", "--data", str(data), "--out", str(out), "--epochs", str(epochs), *SMALL, *extra]
    )


def _png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_evaluate_scores_held_out_steps_only(exported, climsim_data, tmp_path, capsys):
    train_period = read_manifest(exported).provenance["split"]["train"]
    ev = evaluate([exported], climsim_data, tmp_path / "ev")
    assert ev.steps and all(s > train_period["last"] for s in ev.steps)
    assert len(ev.steps) == len(find_pairs(climsim_data)) - train_period["steps"]
    md = (tmp_path / "ev" / "metrics.md").read_text()
    assert f"{len(ev.steps)} held-out time steps, outside the training period" in md
    assert "SST about each column's time mean" in md and "ClimSim ne4pg2 grid" in md
    # all steps only when asked, and then said
    ev_all = evaluate([exported], climsim_data, None, split="all")
    assert len(ev_all.steps) == len(find_pairs(climsim_data))
    assert f"({train_period['steps']} of them in a model's training period)" in ev_all.selection
    # data holding training steps only: an error, never a silent score
    assert (
        cli_main(["evaluate", str(exported), str(climsim_data), "--to", "0001-02-28", "-o", str(tmp_path)])
        == 1
    )
    assert "no held-out time steps between the start and 0001-02-28: all 6 lie in the training period" in (
        capsys.readouterr().err
    )


def test_training_refuses_a_split_without_held_out_steps(climsim_data, tmp_path, capsys):
    assert _train(climsim_data, tmp_path / "r", 1, "--set", "val_from=0002-01-01") == 1
    err = capsys.readouterr().err
    assert "24 time steps and val_from 0002-01-01 leave none held out for validation" in err
    assert not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def four_epochs(climsim_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("four")
    assert _train(climsim_data, out, 4) == 0
    return out


def test_resume_continues_the_learning_rate_schedule(climsim_data, four_epochs, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(climsim_data, run, 2) == 0
    capsys.readouterr()
    # continue the same run to 4 epochs: the flags come from its config.yaml
    assert cli_main(["train", "--resume", str(run / "last.pt"), "--epochs", "4", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "the cosine schedule now spans 4 epochs (was 2); learning rate 0.0005 at epoch 3" in out
    assert "trained epochs 3..4 of 4 (2 in this run)" in out
    resumed = _rows(run / "history.csv")
    straight = _rows(four_epochs / "history.csv")
    assert [int(r["epoch"]) for r in resumed] == [1, 2, 3, 4]
    lr = [float(r["lr"]) for r in resumed]
    # epochs 1-2 under a 2-epoch cosine; epochs 3-4 on the 4-epoch cosine, as an uninterrupted run
    assert lr[:2] == pytest.approx([1e-3, 1e-3 * (1 + math.cos(math.pi / 2)) / 2], rel=1e-5)
    assert lr[2:] == pytest.approx([float(r["lr"]) for r in straight[2:]], rel=1e-5)
    assert lr[2:] == pytest.approx([5e-4, 1e-3 * (1 + math.cos(3 * math.pi / 4)) / 2], rel=1e-5)
    assert yaml.safe_load((run / "config.yaml").read_text())["epochs"] == 4
    assert load_checkpoint(run / "last.pt")["finished"] is True


def test_a_run_folder_is_not_overwritten_without_the_flag(climsim_data, four_epochs, capsys):
    before = (four_epochs / "best.pt").read_bytes()
    assert _train(climsim_data, four_epochs, 1) == 1
    err = capsys.readouterr().err
    assert f"run folder {four_epochs} already holds a run finished at epoch 4 of 4" in err
    assert "pass --overwrite to replace it" in err
    assert (four_epochs / "best.pt").read_bytes() == before


def test_overwrite_replaces_every_file_of_the_earlier_run(climsim_data, tmp_path):
    assert _train(climsim_data, tmp_path, 2) == 0
    assert _train(climsim_data, tmp_path, 1, "--overwrite") == 0
    assert [int(r["epoch"]) for r in _rows(tmp_path / "history.csv")] == [1]
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == 1


def test_run_folder_holds_the_resolved_config(trained):
    cfg = yaml.safe_load((trained / "config.yaml").read_text())
    assert cfg["model_options"] == {"hidden": [64, 64]} and cfg["normalization"] == "data"
    assert cfg["epochs"] == 2 and cfg["batch_size"] == 256 and cfg["lr_schedule"] == "cosine"
    assert _png_size(trained / "training_curve.png")[0] > 800


def test_no_progress_still_prints_one_line_per_epoch(climsim_data, tmp_path, capsys):
    assert _train(climsim_data, tmp_path, 3, "--set", "normalization=data") == 0
    out = capsys.readouterr()
    lines = [line for line in out.out.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all("ETA" in line and "val loss" in line and "R²" in line for line in lines)
    assert "\r" not in out.out + out.err  # no progress bar in a log file
    assert "normalization statistics from the training data: done in" in out.out


CUSTOM = '''
"""A user's own architecture, registered from user code."""
import torch
from torch import nn

import hybridge


@hybridge.register_model("column_net", options={"width": "hidden width"})
class ColumnNet(nn.Module):
    """Two tanh layers."""

    def __init__(self, n_in: int, n_out: int, *, inputs, outputs, width: int = 16):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, width), nn.Tanh(), nn.Linear(width, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
'''


def test_custom_model_from_user_code_trains_and_exports_through_the_cli(climsim_data, tmp_path, capsys):
    plugin = tmp_path / "my_models.py"
    plugin.write_text(CUSTOM)
    run = tmp_path / "run"
    common = ["--set", f"plugins=[{plugin}]"]
    assert cli_main(["train", "--list-models", *common]) == 0
    assert "column_net: Two tanh layers." in capsys.readouterr().out
    rc = cli_main(
        [
            "train",
            "--data",
            str(climsim_data),
            "--out",
            str(run),
            "--epochs",
            "1",
            "--model",
            "column_net",
            "--no-progress",
            "--set",
            "model_options={width: 8}",
            *common,
        ]
    )
    assert rc == 0
    assert load_checkpoint(run / "last.pt")["plugins"] == [str(plugin.resolve())]
    # export in a fresh process: the plugin comes back from the checkpoint
    model = tmp_path / "model.pt"
    exe = [sys.executable, "-m", "hybridge.cli"]
    res = subprocess.run(
        [*exe, "export", str(run / "best.pt"), "-o", str(model)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert "wrote" in res.stdout and "column_net-v1" in res.stdout
    assert cli_main(["inspect", str(model)]) == 0
    assert (
        cli_main(["train", "--data", str(climsim_data), "--out", str(tmp_path / "x"), "--model", "nope"]) == 1
    )
    assert (
        "unknown model 'nope'; registered: column_net, mlp, reslstm, resmlp, unet1d"
        in capsys.readouterr().err
    )


@pytest.mark.parametrize("variables,panels", [("v1", 2), ("v2", 6)])
def test_figures_for_v1_and_v2(climsim_data, tmp_path, variables, panels):
    run = tmp_path / "run"
    assert _train(climsim_data, run, 1, "--variables", variables) == 0
    model = tmp_path / "model.pt"
    assert cli_main(["export", str(run / "best.pt"), "-o", str(model)]) == 0
    ev = evaluate([model], climsim_data, tmp_path / "ev", progress=False)
    assert len([n for n, s in ev.varset.outputs if s > 1]) == panels
    for name in ("r2_by_level.png", "r2_by_latitude.png", "scalars.png"):
        width, height = _png_size(tmp_path / "ev" / name)
        assert 400 < width < 2000 and width / height < 2.5, (name, width, height)
    rows = {r["variable"]: r for r in _rows(tmp_path / "ev" / "metrics_by_level.csv")}
    assert "pressure_hpa" in rows["ptend_t"]


def test_results_as_xarray_and_files_through_xarray(exported, climsim_data, tmp_path):
    xr = pytest.importorskip("xarray")
    from hybridge.data import V1, read_pair
    from hybridge.data.xarray_io import open_pair

    evaluate([exported], climsim_data, tmp_path, progress=False)
    ds = xr.open_dataset(tmp_path / "metrics.nc")
    levels = [r for r in _rows(tmp_path / "metrics_by_level.csv") if r["variable"] == "ptend_t"]
    assert ds["r2_ptend_t"].dims == ("lev",) and ds["r2_ptend_t"].size == 60
    assert ds["r2_ptend_t"].values == pytest.approx([float(r["r2"]) for r in levels], rel=1e-5)
    assert ds["rmse_cam_out_PRECC"].attrs["units"] == "m/s" and "SST about" in ds.attrs["r2_definition"]
    assert ds["pressure_hpa"].values[-1] > 900
    pair = find_pairs(climsim_data)[0]
    inputs, targets = open_pair(pair, V1)
    x, y = read_pair(pair, V1)
    assert (targets["ptend_t"].transpose("ncol", "lev").values.astype("f4") == y[:, :60]).all()
    assert (inputs["state_ps"].values.astype("f4") == x[:, 120]).all()
    assert targets["ptend_q0001"].attrs["units"] == "kg/kg/s"


def test_tensorboard_scalars_when_installed(trained):
    pytest.importorskip("tensorboard")
    events = list((trained / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
