"""Round trips of every subcommand: train -> export -> inspect -> evaluate, resume, learning."""

import csv
import subprocess
import sys
import time

import pytest
import torch

from hybridge.checkpoint import load_checkpoint
from hybridge.cli import main as cli_main
from hybridge.data import V1, find_pairs, read_pair
from hybridge.export import emulator_from_checkpoint, export_checkpoint
from hybridge.manifest import model_checksum, read_manifest


def _csv_rows(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_train_writes_checkpoints_and_history(trained):
    ckpt = load_checkpoint(trained / "last.pt")
    assert ckpt["epoch"] == 2 and ckpt["model"] == "mlp" and ckpt["variables"]["name"] == "v1"
    rows = list(_csv_rows(trained / "history.csv"))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])


def test_resume_continues_where_it_stopped(trained, climsim_data, tmp_path, capsys):
    rc = cli_main(
        [
            "train",
            "--data",
            str(climsim_data),
            "--out",
            str(tmp_path),
            "--epochs",
            "3",
            "--batch-size",
            "256",
            "--no-progress",
            "--resume",
            str(trained / "last.pt"),
            "--set",
            "model_options={hidden: [64, 64]}",
            "--set",
            "normalization=data",
        ]
    )
    assert rc == 0
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["epoch"] == 3 and len(ckpt["history"]) == 3
    assert torch.equal(
        ckpt["normalization"]["x_mean"], load_checkpoint(trained / "last.pt")["normalization"]["x_mean"]
    )


def test_export_manifest_and_bit_identical_to_eager(trained, exported, climsim_data):
    m = read_manifest(exported)
    assert m.name == "mlp-v1" and m.inputs[0].name == "x" and m.outputs[0].name == "y"
    assert m.inputs[0].shape == [124] and m.outputs[0].shape == [128]
    assert m.inputs[0].variable("state_q0001").offset == 60
    assert m.inputs[0].variable("state_ps").units == "Pa"
    assert m.outputs[0].variable("cam_out_PRECC").units == "m/s"
    assert m.physics["water_conservation"] is True and m.physics["dt"] == 1200.0
    assert m.provenance["variable_set"] == "v1" and m.provenance["hybridge_version"]
    assert model_checksum(exported) == m.checksum
    scripted = torch.jit.load(str(exported))
    ckpt = load_checkpoint(trained / "best.pt")
    eager, _, _, _ = emulator_from_checkpoint(ckpt, trained / "best.pt")
    x, _ = read_pair(find_pairs(climsim_data)[-1], V1)
    x = torch.from_numpy(x)
    with torch.no_grad():
        assert torch.equal(scripted(x), eager(x))


def test_export_without_physics_is_the_bare_network(trained, tmp_path, climsim_data):
    out = tmp_path / "raw.pt"
    assert cli_main(["export", str(trained / "best.pt"), "-o", str(out), "--no-physics"]) == 0
    assert read_manifest(out).physics["water_conservation"] is False
    x = torch.from_numpy(read_pair(find_pairs(climsim_data)[0], V1)[0])
    ckpt = load_checkpoint(trained / "best.pt")
    n = ckpt["normalization"]
    eager, _, _, _ = emulator_from_checkpoint(ckpt, "best.pt", no_physics=True)
    with torch.no_grad():
        expect = eager.net((x - n["x_mean"]) / n["x_range"]) / n["y_scale"]
        torch.testing.assert_close(torch.jit.load(str(out))(x), expect, rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", ["mlp", "resmlp", "unet1d", "reslstm"])
@pytest.mark.parametrize("variables", ["v1", "v2"])
def test_every_model_exports_bit_identical(name, variables, tmp_path):
    """Untrained weights are enough: the check is scripted == eager, and a valid manifest."""
    small = {
        "mlp": {"hidden": [32]},
        "resmlp": {"width": 16, "blocks": 1},
        "unet1d": {"channels": 4},
        "reslstm": {"hidden": 8, "layers": 1},
    }[name]
    from hybridge.checkpoint import save_checkpoint
    from hybridge.data import get_variable_set
    from hybridge.data.normalization import climsim_normalization
    from hybridge.models import build_model

    varset = get_variable_set(variables)
    torch.manual_seed(0)
    net = build_model(name, varset, small)
    ckpt = {
        "model": name,
        "model_options": small,
        "variables": varset.to_dict(),
        "dt": 1200.0,
        "normalization": climsim_normalization(varset).to_tensors(),
        "state_dict": net.state_dict(),
    }
    save_checkpoint(ckpt, tmp_path / "c.pt")
    m = export_checkpoint(tmp_path / "c.pt", tmp_path / "m.pt")
    assert m.inputs[0].shape == [varset.n_in] and m.checksum.startswith("sha256:")
    eager, _, _, _ = emulator_from_checkpoint(load_checkpoint(tmp_path / "c.pt"), "c.pt")
    x = torch.from_numpy(climsim_normalization(varset).x_mean).float().repeat(16, 1)
    with torch.no_grad():
        assert torch.equal(torch.jit.load(str(tmp_path / "m.pt"))(x), eager(x))


def test_inspect_prints_manifest_and_runs(exported, capsys):
    assert cli_main(["inspect", str(exported)]) == 0
    out = capsys.readouterr().out
    assert "state_t(60) state_q0001(60) state_ps pbuf_SOLIN pbuf_LHFLX pbuf_SHFLX" in out
    assert "(verified)" in out and "dry batch of 8 columns (the model's training means): ok, y[8, 128]" in out


def test_evaluate_single_and_ensemble(exported, trained, climsim_data, tmp_path, capsys):
    out = tmp_path / "eval"
    assert cli_main(["evaluate", str(exported), str(climsim_data), "-o", str(out)]) == 0
    for f in (
        "metrics_by_variable.csv",
        "metrics_by_level.csv",
        "metrics.md",
        "r2_by_level.png",
        "r2_by_latitude.png",
    ):
        assert (out / f).stat().st_size > 0, f
    rows = {r["variable"]: r for r in _csv_rows(out / "metrics_by_variable.csv")}
    assert set(rows) == {n for n, _ in V1.outputs}
    assert float(rows["ptend_t"]["r2"]) > 0.0 and "crps" not in rows["ptend_t"]
    levels = list(_csv_rows(out / "metrics_by_level.csv"))
    assert len(levels) == 128
    assert (out / "r2_by_level.png").read_bytes()[:4] == b"\x89PNG"
    second = tmp_path / "second.pt"
    assert cli_main(["export", str(trained / "last.pt"), "-o", str(second)]) == 0
    ens = tmp_path / "ens"
    assert cli_main(["evaluate", str(exported), str(second), str(climsim_data), "-o", str(ens)]) == 0
    rows = {r["variable"]: r for r in _csv_rows(ens / "metrics_by_variable.csv")}
    assert float(rows["ptend_t"]["crps"]) > 0.0
    assert "CRPS" in (ens / "metrics.md").read_text()


def test_console_script_runs(exported):
    exe = __import__("shutil").which("hybridge") or str(
        __import__("pathlib").Path(sys.executable).parent / "hybridge"
    )
    res = subprocess.run([exe, "inspect", str(exported)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([exe, "inspect", "nope.pt"], capture_output=True, text=True)
    assert res.returncode == 1 and "model file not found: nope.pt" in res.stderr


def test_mlp_learns_known_nonlinear_targets(climsim_data, tmp_path):
    """The learning test: held-out R² (hybridge.skill) >= 0.95 for the tendencies, which the
    synthetic data make a smooth function of the inputs, within a bounded CPU time. The
    precipitation targets are clipped at zero by the water budget (hard for 10 epochs), so
    the mean over variables is held to 0.85.

    CPU time of this process (all threads), not wall time: the test machines are shared."""
    t0 = time.process_time()
    rc = cli_main(
        [
            "train",
            "--data",
            str(climsim_data),
            "--out",
            str(tmp_path),
            "--epochs",
            "10",
            "--batch-size",
            "128",
            "--lr",
            "2e-3",
            "--no-progress",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--set",
            "model_options={hidden: [256, 256]}",
            "--set",
            "normalization=data",
            "--set",
            "patience=10",
        ]
    )
    seconds = time.process_time() - t0
    assert rc == 0
    last = list(_csv_rows(tmp_path / "history.csv"))[-1]
    r2 = {k: float(v) for k, v in last.items() if k.startswith("val_r2")}
    print(f"learning test: held-out R² {r2} after 10 epochs, {seconds:.1f} s CPU")
    assert r2["val_r2_ptend_t"] >= 0.95 and r2["val_r2_ptend_q0001"] >= 0.95
    assert r2["val_r2"] >= 0.85
    assert seconds < 60.0


def test_example_config_trains(climsim_data, tmp_path):
    from pathlib import Path

    import hybridge

    cfg = Path(hybridge.__file__).parent / "configs" / "v1_mlp.yaml"
    rc = cli_main(
        [
            "train",
            "-c",
            str(cfg),
            "--data",
            str(climsim_data),
            "--out",
            str(tmp_path),
            "--epochs",
            "1",
            "--no-progress",
            "--set",
            "model_options={hidden: [32]}",
            "--set",
            "stride=4",
        ]
    )
    assert rc == 0
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["normalization_source"] == "climsim" and ckpt["physics"]["zero_top_levels"] == 12


def test_export_records_the_training_ranges_and_the_engine_guards_with_them(trained, exported, climsim_data):
    """Issue 15: the manifest carries min/max/mean/std of every input and output seen in training
    (training files only), and the engine's guard loads with them."""
    import numpy as np

    from hybridge.checkpoint import load_checkpoint
    from hybridge.core import Model

    m = read_manifest(exported)
    split = load_checkpoint(trained / "best.pt")["split"]["train"]
    train = [p for p in find_pairs(climsim_data) if split["first"] <= p.stamp <= split["last"]]
    xs, ys = zip(*(read_pair(p, V1) for p in train), strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    np.testing.assert_allclose(m.inputs[0].training["min"], x.min(0), rtol=1e-6)
    np.testing.assert_allclose(m.inputs[0].training["max"], x.max(0), rtol=1e-6)
    np.testing.assert_allclose(m.outputs[0].training["mean"], y.mean(0), rtol=1e-5, atol=1e-12)
    with Model(exported, options={"guard": "fallback"}) as engine:
        x_probe = x[:5].astype(np.float64).copy()
        x_probe[3, 0] = m.inputs[0].training["max"][0] + 10 * (
            m.inputs[0].training["max"][0] - m.inputs[0].training["min"][0] + 1.0
        )
        engine.run({"x": x_probe})
        first_in, _ = engine.guard_columns(5)
    assert first_in.tolist() == [-1, -1, -1, 0, -1]
