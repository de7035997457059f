"""A very short `make demo` (scripts/demo.sh -> hybridge demo): 18 reference steps of
training data, one epoch of a small MLP, 9-step hybrid and partial-coupling runs; and the
demo's errors for a missing host model or bad sizes."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, TINY_REFERENCE
from hybridge import cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo(host_with_ml, shared_out):
    r = TINY_REFERENCE
    env = dict(
        os.environ,
        HYBRIDGE_PYTHON=sys.executable,
        HYBRIDGE_DEMO_OUT=str(shared_out),
        HYBRIDGE_DEMO_RANKS=str(r["ranks"]),
        HYBRIDGE_DEMO_TRAIN_DAYS=str(r["train_days"]),
        HYBRIDGE_DEMO_TRAIN_INTERVAL=str(r["train_interval"]),
        HYBRIDGE_DEMO_HYBRID_DAYS=str(r["hybrid_days"]),
        HYBRIDGE_DEMO_EPOCHS="1",
        HYBRIDGE_DEMO_HIDDEN="32",
        HYBRIDGE_DEMO_ARGS=f"--output-interval {r['output_interval']} --nonfinite-policy fallback",
    )
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "demo.sh")], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return shared_out, proc.stdout, json.loads((shared_out / "metrics.json").read_text())


def test_demo_writes_report_figures_and_summary(demo):
    out, stdout, _ = demo
    report = (out / "report.md").read_text()
    for section in (
        "## Summary",
        "## Global RMSE over time",
        "## Zonal-mean bias",
        "## Precipitation distribution",
        "## Column water and energy drift",
        "## Out-of-distribution guard",
    ):
        assert section in report
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert figures == [
        "budget_drift.png",
        "guarded_fraction.png",
        "precipitation.png",
        "rmse_T_q.png",
        "zonal_mean_bias.png",
    ]
    for name in figures:
        assert (out / "figures" / name).read_bytes()[:8] == PNG_MAGIC
        assert f"figures/{name}" in report
    assert "hybrid_ml" in stdout and "hybrid_partial" in stdout and "report:" in stdout
    assert not list(out.rglob(".*.tmp"))


def test_demo_runs_start_from_the_reference_state(demo):
    _, _, metrics = demo
    names = [r["name"] for r in metrics["runs"]]
    assert names == ["hybrid_ml", "hybrid_partial"]
    for run in metrics["runs"]:
        assert run["steps_requested"] == 9
        assert 0 < run["steps_survived"] <= 9
        m = run["metrics"]
        # the first .mli of a hybrid run is the restart state: identical to the reference's
        assert m["hours"][0] == 0.0 and m["rmse_t_K"][0] == 0.0 and m["rmse_q_g_per_kg"][0] == 0.0
        assert m["water_drift_kg_per_m2"]["run"][0] == 0.0
    partial = metrics["runs"][1]
    assert partial["ml_variables"][0] == "ptend_t" and partial["physics_mode"] == "partial"
    # conventional physics closes its budgets to round-off
    budget = metrics["reference"]["budget"]
    assert abs(budget["energy_residual_W_per_m2"]) < 1e-6
    assert abs(budget["water_residual_mm_per_day"]) < 1e-6


def test_missing_host_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HYBRIDGE_HOST", str(tmp_path / "no-such-host"))
    assert cli.main(["demo", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "hybridge-host not found" in err and "no-such-host" in err


def test_bad_sizes_are_named(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path), "--ranks", "0"]) == 1
    assert "--ranks must be >= 1" in capsys.readouterr().err
    assert cli.main(["demo", "--out", str(tmp_path), "--epochs", "0"]) == 1
    assert "--epochs must be >= 1" in capsys.readouterr().err
    assert cli.main(["demo", "--out", str(tmp_path), "--val-fraction", "1.5"]) == 1
    assert "--val-fraction must be between 0 and 1" in capsys.readouterr().err
