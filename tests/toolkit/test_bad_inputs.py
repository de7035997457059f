"""Bad input: each gives one clear error naming the file and the variable; nothing half-written."""

import netCDF4
import numpy as np
import pytest
import torch

from hybridge.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from hybridge.cli import main as cli_main
from hybridge.config import ConfigError, load_config
from hybridge.data import V1, DataError, find_pairs, read_pair
from hybridge.export import export_checkpoint
from hybridge.manifest import EXTRA_FILE, read_manifest


def _first_mli(root):
    return sorted(root.glob("*/*.mli.*.nc"))[0]


def test_missing_variable_names_file_and_variable(data_copy):
    mli = _first_mli(data_copy)
    with netCDF4.Dataset(mli, "a") as d:
        d.renameVariable("pbuf_LHFLX", "pbuf_LHFLX_typo")  # misnamed
    with pytest.raises(DataError, match=rf"{mli.name}: variable 'pbuf_LHFLX' not found"):
        read_pair(find_pairs(data_copy)[0], V1)


def test_wrong_dims_are_named(data_copy):
    mli = _first_mli(data_copy)
    with netCDF4.Dataset(mli, "a") as d:
        d.createDimension("lev2", 30)
        d.renameVariable("state_t", "old_t")
        d.createVariable("state_t", "f8", ("lev2", "ncol"))[:] = 250.0
    with pytest.raises(DataError, match=r"variable 'state_t' has dims \('lev2', 'ncol'\), expected"):
        read_pair(find_pairs(data_copy)[0], V1)


def test_mli_without_mlo_partner(data_copy):
    mli = _first_mli(data_copy)
    mli.with_name(mli.name.replace(".mli.", ".mlo.")).unlink()
    with pytest.raises(DataError, match=rf"{mli.name}: no .mlo partner"):
        find_pairs(data_copy)


def test_nan_in_data_names_variable_and_column(data_copy):
    mli = _first_mli(data_copy)
    mlo = mli.with_name(mli.name.replace(".mli.", ".mlo."))
    with netCDF4.Dataset(mlo, "a") as d:
        d["state_q0001"][5, 17] = np.nan
    with pytest.raises(
        DataError, match=rf"{mlo.name}: variable 'state_q0001' has NaN/Inf \(first at column 17, level 5\)"
    ):
        read_pair(find_pairs(data_copy)[0], V1)


def test_unknown_config_key(tmp_path, capsys):
    cfg = tmp_path / "train.yaml"
    cfg.write_text("data: /nowhere\nepochs: 2\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=rf"{cfg}: unknown config key 'learning_rate'"):
        load_config(cfg)
    assert cli_main(["train", "-c", str(cfg)]) == 1
    assert "unknown config key 'learning_rate'" in capsys.readouterr().err
    assert cli_main(["train", "--data", "/nowhere", "--set", "epoch=3"]) == 1
    assert "command line: unknown config key 'epoch'" in capsys.readouterr().err


def test_checkpoint_from_another_model(trained, climsim_data, tmp_path, capsys):
    # resume with another architecture
    rc = cli_main(
        [
            "train",
            "--data",
            str(climsim_data),
            "--out",
            str(tmp_path / "r"),
            "--epochs",
            "3",
            "--no-progress",
            "--model",
            "resmlp",
            "--resume",
            str(trained / "last.pt"),
        ]
    )
    assert rc == 1
    assert "checkpoint is for model 'mlp', the configuration asks for 'resmlp'" in capsys.readouterr().err
    # weights of another model under this model's name: export names the parameters
    ckpt = load_checkpoint(trained / "last.pt")
    ckpt["state_dict"] = {
        k: torch.zeros(3) if k == "net.0.weight" else v for k, v in ckpt["state_dict"].items()
    }
    bad = tmp_path / "bad.pt"
    save_checkpoint({k: v for k, v in ckpt.items() if k != "format"}, bad)
    out = tmp_path / "model.pt"
    with pytest.raises(
        CheckpointError, match=rf"{bad}: weights do not fit the model: shape mismatch net.0.weight"
    ):
        export_checkpoint(bad, out)
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


def test_not_a_checkpoint(tmp_path):
    bad = tmp_path / "junk.pt"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match=rf"{bad}: not a readable checkpoint"):
        load_checkpoint(bad)


def test_inspect_detects_checksum_mismatch(exported, tmp_path, capsys):
    module = torch.jit.load(str(exported))
    extra = {EXTRA_FILE: ""}
    torch.jit.load(str(exported), _extra_files=extra)
    with torch.no_grad():
        getattr(module.net.net, "0").bias[0] += 1.0  # other weights, same manifest
    moved = tmp_path / "moved.pt"
    torch.jit.save(module, str(moved), _extra_files=extra)
    assert read_manifest(moved).checksum  # the manifest itself is still valid
    assert cli_main(["inspect", str(moved)]) == 1
    err = capsys.readouterr().err
    assert f"hybridge inspect: error: {moved}: checksum mismatch" in err


def test_inspect_rejects_a_model_without_manifest(tmp_path, capsys):
    plain = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(plain))
    assert cli_main(["inspect", str(plain)]) == 1
    assert "no hybridge_manifest.json in the model file" in capsys.readouterr().err


def test_failed_export_leaves_previous_file_intact(trained, exported, tmp_path):
    target = tmp_path / "model.pt"
    target.write_bytes(exported.read_bytes())
    with pytest.raises(ValueError, match="unknown physics option 'conserve'"):
        export_checkpoint(trained / "best.pt", target, {"conserve": True})
    assert target.read_bytes() == exported.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]
