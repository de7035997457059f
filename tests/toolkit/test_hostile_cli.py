"""Hostile input to the CLI (issue 12): every argument checked before work starts, one line
naming the problem, a non-zero exit code, no traceback (``--debug`` shows one)."""

import json
import os
import shlex
import subprocess
import sys

import pytest
import torch

from hybridge.cli import main as cli_main

# (case id, argv with {data} {ckpt} {model} {tmp} placeholders, exit code, message)
CASES = [
    (
        "batch-size-0",
        "train --data {data} --out {tmp}/r --batch-size 0",
        1,
        "batch_size must be an integer >= 1, got 0",
    ),
    ("epochs-0", "train --data {data} --out {tmp}/r --epochs 0", 1, "epochs must be an integer >= 1, got 0"),
    ("lr-string-flag", "train --data {data} --lr fast", 2, "argument --lr: invalid float value: 'fast'"),
    ("lr-string-set", "train --data {data} --set lr=fast", 1, "lr must be a number, got 'fast'"),
    ("lr-negative", "train --data {data} --set lr=-1e-3", 1, "lr must be > 0, got -0.001"),
    ("lr-string-yaml", "train -c {tmp}/lr.yaml", 1, "lr must be a number, got 'fast'"),
    ("invalid-yaml-file", "train -c {tmp}/bad.yaml", 1, "bad.yaml: not valid YAML"),
    (
        "invalid-yaml-set",
        "train --data {data} --set 'model_options={{hidden: [64'",
        1,
        "--set model_options: value is not valid YAML",
    ),
    ("config-not-a-mapping", "train -c {tmp}/list.yaml", 1, "list.yaml: expected a mapping of config keys"),
    ("config-missing", "train -c {tmp}/nope.yaml", 1, "cannot read config file"),
    ("unknown-key", "train --data {data} --set epoch=3", 1, "command line: unknown config key 'epoch'"),
    ("set-without-value", "train --data {data} --set epochs", 1, "--set expects KEY=VALUE, got 'epochs'"),
    ("device-cuda-without-cuda", "train --data {data} --device cuda", 1, "sees no CUDA device"),
    (
        "device-unknown",
        "train --data {data} --device tpu",
        1,
        "device must be auto, cpu, cuda or cuda:N, got 'tpu'",
    ),
    (
        "val-from-impossible-date",
        "train --data {data} --set val_from=0001-02-30",
        1,
        "day 30 does not exist in month 2",
    ),
    (
        "val-from-not-a-date",
        "train --data {data} --set val_from=soon",
        1,
        "is not a date of the form YYYY-MM-DD",
    ),
    ("val-fraction-1", "train --data {data} --set val_fraction=1.0", 1, "val_fraction must be < 1, got 1"),
    ("stride-0", "train --data {data} --set stride=0", 1, "stride must be an integer >= 1, got 0"),
    ("patience-0", "train --data {data} --set patience=0", 1, "patience must be an integer >= 1, got 0"),
    (
        "num-workers-negative",
        "train --data {data} --num-workers -1",
        1,
        "num_workers must be an integer between 0",
    ),
    (
        "normalization-unknown",
        "train --data {data} --set normalization=zscore",
        1,
        "normalization must be one of auto",
    ),
    (
        "schedule-unknown",
        "train --data {data} --set lr_schedule=linear",
        1,
        "lr_schedule must be one of cosine",
    ),
    ("seed-string", "train --data {data} --set seed=abc", 1, "seed must be an integer, got 'abc'"),
    (
        "batch-size-float",
        "train --data {data} --set batch_size=1.5",
        1,
        "batch_size must be an integer, got 1.5",
    ),
    ("dt-zero", "train --data {data} --set dt=0", 1, "dt must be > 0, got 0"),
    ("model-unknown", "train --data {data} --out {tmp}/r --model cnn", 1, "unknown model 'cnn'; registered:"),
    (
        "model-option-unknown",
        "train --data {data} --out {tmp}/r --set 'model_options={{width: 3}}'",
        1,
        "model 'mlp' has no option 'width'",
    ),
    (
        "model-option-bad",
        "train --data {data} --out {tmp}/r --set 'model_options={{hidden: -4}}'",
        1,
        "hidden must be positive integer widths",
    ),
    (
        "model-options-not-mapping",
        "train --data {data} --set model_options=64",
        1,
        "model_options must be a mapping",
    ),
    (
        "variables-unknown",
        "train --data {data} --out {tmp}/r --variables v3",
        1,
        "variable set 'v3' is neither one of",
    ),
    ("data-missing", "train --data {tmp}/nowhere --out {tmp}/r", 1, "data directory not found"),
    ("no-data", "train --out {tmp}/r", 1, "no data directory: set 'data'"),
    (
        "train-physics-bad",
        "train --data {data} --out {tmp}/r --set 'physics={{water_conservation: maybe}}'",
        1,
        "water_conservation must be true or false, got 'maybe'",
    ),
    ("out-is-a-file", "train --data {data} --out {tmp}/lr.yaml", 1, "lr.yaml exists and is not a folder"),
    (
        "case-escapes-train",
        "train --data {data} --set case=../../x",
        1,
        "case '../../x' is not a plain file-name prefix",
    ),
    (
        "tensorboard-bad",
        "train --data {data} --set tensorboard=maybe",
        1,
        "tensorboard must be one of auto, True, False",
    ),
    ("steps-0", "synthetic {tmp}/s --steps 0", 1, "--steps must be at least 1, got 0"),
    ("ncol-0", "synthetic {tmp}/s --ncol 0", 1, "--ncol must be at least 1, got 0"),
    ("nlev-1", "synthetic {tmp}/s --nlev 1", 1, "--nlev must be at least 2, got 1"),
    (
        "start-impossible-date",
        "synthetic {tmp}/s --start 0001-02-30-00000",
        1,
        "day 30 does not exist in month 2",
    ),
    (
        "start-impossible-time",
        "synthetic {tmp}/s --start 0001-02-01-90000",
        1,
        "90000 seconds is not a time of day",
    ),
    (
        "case-escapes-synthetic",
        "synthetic {tmp}/s --case ../../x",
        1,
        "case '../../x' is not a plain file-name prefix",
    ),
    (
        "physics-maybe",
        "export {ckpt} -o {tmp}/m.pt --physics water_conservation=maybe",
        1,
        "water_conservation must be true or false, got 'maybe'",
    ),
    (
        "physics-zero-top-1000",
        "export {ckpt} -o {tmp}/m.pt --physics zero_top_levels=1000",
        1,
        "zero_top_levels must be between 0 and 60 (the levels of ptend_q0001), got 1000",
    ),
    (
        "physics-dt-negative",
        "export {ckpt} -o {tmp}/m.pt --physics dt=-1200",
        1,
        "dt must be a positive number of seconds, got -1200",
    ),
    (
        "physics-unknown",
        "export {ckpt} -o {tmp}/m.pt --physics conserve=true",
        1,
        "unknown physics option 'conserve'",
    ),
    (
        "physics-no-value",
        "export {ckpt} -o {tmp}/m.pt --physics q_nonneg",
        1,
        "--physics expects OPTION=VALUE",
    ),
    (
        "physics-and-no-physics",
        "export {ckpt} -o {tmp}/m.pt --no-physics --physics q_nonneg=true",
        1,
        "--no-physics and --physics contradict",
    ),
    ("export-missing-checkpoint", "export {tmp}/none.pt -o {tmp}/m.pt", 1, "checkpoint not found"),
    ("export-into-missing-folder", "export {ckpt} -o {tmp}/no/such/m.pt", 1, "does not exist"),
    ("export-not-a-checkpoint", "export {tmp}/lr.yaml -o {tmp}/m.pt", 1, "not a readable checkpoint"),
    ("inspect-missing", "inspect {tmp}/none.pt", 1, "model file not found"),
    ("inspect-not-a-model", "inspect {tmp}/lr.yaml", 1, "neither TorchScript nor a .pt2 package"),
    ("inspect-ncol-0", "inspect {model} --ncol 0", 1, "--ncol must be at least 1, got 0"),
    ("evaluate-stride-0", "evaluate {model} {data} --stride 0", 1, "--stride must be at least 1, got 0"),
    ("evaluate-bad-date", "evaluate {model} {data} --from 2001-13-01", 1, "month 13 does not exist"),
    ("evaluate-missing-model", "evaluate {tmp}/none.pt {data}", 1, "model file not found"),
    (
        "evaluate-grid-missing",
        "evaluate {model} {data} -o {tmp}/e --grid {tmp}/nogrid.nc",
        1,
        "grid file not found",
    ),
    (
        "evaluate-split-bad",
        "evaluate {model} {data} --split train",
        2,
        "argument --split: invalid choice: 'train'",
    ),
]


@pytest.fixture
def argv(request, climsim_data, trained, exported, tmp_path):
    (tmp_path / "lr.yaml").write_text(f"data: {climsim_data}\nlr: fast\n")
    (tmp_path / "bad.yaml").write_text("data: [unclosed\nepochs: 2\n")
    (tmp_path / "list.yaml").write_text("- epochs\n")

    def expand(template):
        return shlex.split(
            template.format(data=climsim_data, ckpt=trained / "best.pt", model=exported, tmp=tmp_path)
        )

    return expand


@pytest.mark.parametrize("case,template,code,message", CASES, ids=[c[0] for c in CASES])
def test_bad_argument_is_one_line_and_a_non_zero_exit(argv, case, template, code, message, capsys, tmp_path):
    if case == "device-cuda-without-cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    args = argv(template)
    if code == 2:
        with pytest.raises(SystemExit) as e:
            cli_main(args)
        rc = e.value.code
    else:
        rc = cli_main(args)
    err = capsys.readouterr().err
    assert rc == code, err
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert not list(tmp_path.parent.glob("x.mli.*")) and not (tmp_path / "r").exists()


def test_debug_shows_the_traceback(climsim_data):
    exe = [sys.executable, "-m", "hybridge.cli"]
    plain = subprocess.run(
        [*exe, "train", "--data", str(climsim_data), "--batch-size", "0"], capture_output=True, text=True
    )
    debug = subprocess.run(
        [*exe, "train", "--data", str(climsim_data), "--batch-size", "0", "--debug"],
        capture_output=True,
        text=True,
    )
    assert plain.returncode == debug.returncode == 1
    assert "Traceback" not in plain.stderr and "Traceback (most recent call last)" in debug.stderr
    assert "batch_size must be an integer >= 1, got 0" in debug.stderr.splitlines()[-1]


def test_inspect_json_is_valid_json(exported, capsys):
    assert cli_main(["inspect", str(exported), "--json"]) == 0
    out = capsys.readouterr()
    manifest = json.loads(out.out)
    assert manifest["schema"] == "hybridge-manifest/1" and manifest["outputs"][0]["name"] == "y"
    assert "dry batch of 8 columns" in out.err


def test_exported_model_gets_the_umask_mode(trained, tmp_path):
    old = os.umask(0o022)
    try:
        assert cli_main(["export", str(trained / "best.pt"), "-o", str(tmp_path / "m.pt")]) == 0
        os.umask(0o027)
        assert cli_main(["export", str(trained / "best.pt"), "-o", str(tmp_path / "g.pt")]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "m.pt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "g.pt").stat().st_mode & 0o777 == 0o640


def test_case_never_writes_outside_the_output_folder(tmp_path):
    out = tmp_path / "a" / "b"
    assert cli_main(["synthetic", str(out), "--steps", "1", "--case", "../../x"]) == 1
    assert not any(p.name.startswith("x.") for p in tmp_path.rglob("*")) and not out.exists()
