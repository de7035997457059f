"""`hybridge ensemble`: spec checking, survival curve, Slurm scripts, and a 2-member ensemble
(one configuration x two seeds, 9-step hybrid runs) run in parallel."""

import csv
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import hybridge
from conftest import TINY_REFERENCE
from hybridge import cli
from hybridge.ensemble import SpecError, load_spec, members, survival_curve, write_slurm


def _spec(path, **over):
    spec = {
        "reference": dict(TINY_REFERENCE),
        "ranks_per_member": 1,
        "seeds": [0, 1],
        "configurations": {"tiny": {"hidden": [16], "epochs": 1, "nonfinite_policy": "fallback"}},
    }
    spec.update(over)
    path.write_text(yaml.safe_dump(spec))
    return path


def test_members_cross_configurations_and_seeds(tmp_path):
    spec = load_spec(
        _spec(
            tmp_path / "s.yaml",
            seeds=[3, 4, 5],
            configurations={
                "a": {"hidden": [8]},
                "b": {"physics_mode": "partial", "ml_variables": ["ptend_t"]},
            },
        )
    )
    m = members(spec)
    assert [(x["index"], x["name"]) for x in m] == [
        (0, "a-s3"),
        (1, "a-s4"),
        (2, "a-s5"),
        (3, "b-s3"),
        (4, "b-s4"),
        (5, "b-s5"),
    ]
    assert m[4]["settings"]["ml_variables"] == ["ptend_t"] and m[0]["settings"]["epochs"] == 15


@pytest.mark.parametrize(
    "over, message",
    [
        ({"seed": [1]}, "unknown key 'seed'"),
        ({"seeds": []}, "seeds must be a non-empty list"),
        ({"configurations": {}}, "configurations must be a non-empty mapping"),
        ({"configurations": {"x": {"layers": 3}}}, "configurations.x: unknown key 'layers'"),
        ({"configurations": {"x": {"physics_mode": "partial"}}}, "needs ml_variables"),
        ({"configurations": {"x": {"hidden": [0]}}}, "hidden must be a list of positive integers"),
        ({"reference": {"days": 3}}, "reference: unknown key 'days'"),
        ({"configurations": {"x": {"ml_guard": "on"}}}, "ml_guard must be 'off', 'fallback' or 'clip'"),
        ({"configurations": {"x": {"ml_guard_margin": -1}}}, "ml_guard_margin must be a number from 0"),
        (
            {"configurations": {"x": {"ml_guard_margin": float("nan")}}},
            "ml_guard_margin must be a number from 0",
        ),
    ],
)
def test_bad_specs_are_named(tmp_path, over, message):
    with pytest.raises(SpecError, match=message):
        load_spec(_spec(tmp_path / "s.yaml", **over))


def test_missing_spec_is_an_error_of_the_cli(tmp_path, capsys):
    assert cli.main(["ensemble", str(tmp_path / "nope.yaml")]) == 1
    assert "ensemble spec not found" in capsys.readouterr().err


def test_example_spec_is_valid():
    spec = load_spec(Path(hybridge.__file__).parent / "online" / "ensemble_example.yaml")
    assert len(members(spec)) == 6


def test_survival_curve_counts_runs_still_alive():
    steps, alive = survival_curve([2, 4, 4, 0], 4)
    np.testing.assert_array_equal(steps, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(alive, [1.0, 0.75, 0.75, 0.5, 0.5])


def test_slurm_scripts_chain_reference_array_and_summary(tmp_path):
    path = _spec(tmp_path / "s.yaml", slurm={"partition": "cpu", "time": "00:30:00", "extra": ["--mem=4G"]})
    submit = write_slurm(path, load_spec(path), tmp_path / "out")
    d = submit.parent
    members_job = (d / "members.sbatch").read_text()
    assert "#SBATCH --array=0-1" in members_job and '--member "$SLURM_ARRAY_TASK_ID"' in members_job
    assert "#SBATCH --partition=cpu" in members_job and "#SBATCH --mem=4G" in members_job
    assert "--reference-only" in (d / "reference.sbatch").read_text()
    assert "--summarize" in (d / "summary.sbatch").read_text()
    text = submit.read_text()
    assert "--dependency=afterok:$ref members.sbatch" in text and "--dependency=afterany:$arr" in text
    for f in d.iterdir():
        subprocess.run(["bash", "-n", str(f)], check=True)


def test_member_without_reference_names_the_step_to_run(tmp_path, capsys):
    path = _spec(tmp_path / "s.yaml")
    assert cli.main(["ensemble", str(path), "--out", str(tmp_path / "o"), "--member", "0"]) == 1
    assert "--reference-only" in capsys.readouterr().err


def test_tiny_ensemble_runs_in_parallel_and_plots_survival(host_with_ml, shared_out, tmp_path, capsys):
    path = _spec(tmp_path / "spec.yaml")
    assert cli.main(["ensemble", str(path), "--out", str(shared_out), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "running 2 members, 2 at a time" in out and "FAILED" not in out
    with open(shared_out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["member"] for r in rows] == ["tiny-s0", "tiny-s1"]
    assert all(0 < int(r["steps_survived"]) <= int(r["steps_requested"]) == 9 for r in rows)
    assert (shared_out / "survival.png").read_bytes()[:4] == b"\x89PNG"
    assert "| tiny | 2 |" in (shared_out / "summary.md").read_text()
    # different seeds, different emulators
    a, b = (
        torch.load(shared_out / "members" / n / "emulator" / "train" / "best.pt", weights_only=False)[
            "state_dict"
        ]
        for n in ("tiny-s0", "tiny-s1")
    )
    assert any(not torch.equal(a[k], b[k]) for k in a)
