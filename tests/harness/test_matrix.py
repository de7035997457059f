"""The CI-sized matrix through ``hybridge verify``: every row passes on CPU here, with
TorchScript models and with AOTInductor packages (``--format pt2``, which adds the FORMATS
rows: TorchScript vs pt2 of the same weights, measured)."""

import json
import subprocess
import sys

import pytest
from harness_run import HOST, mpi_env, rows_by_test

MEASURED = ("MEASURED", "MEASURED(equal)")


@pytest.mark.parametrize("fmt", ["torchscript", "pt2"])
def test_ci_matrix_passes(built, tmp_path, fmt):
    report = tmp_path / "report.json"
    cmd = [
        sys.executable,
        "-m",
        "hybridge.cli",
        "verify",
        "--ranks",
        "4",
        "--workdir",
        str(tmp_path),
        "--json",
        str(report),
        "--format",
        fmt,
    ]
    if not HOST.exists():
        cmd.append("--no-host")
    proc = subprocess.run(cmd, env=mpi_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(report.read_text())
    assert data["format"] == fmt
    rows = rows_by_test(data)
    expected = [
        f"PYREF {m} {layer}"
        for m in ("mlp_v1", "multi_io", "recurrent")
        for layer in ("fortran", "c", "engine")
    ]
    expected += [
        "PYREF host_model host-driver",
        "PEM mlp_v1 chunk=16",
        "PEM recurrent chunk=16",
        "PET mlp_v1 chunk=16",
        "ERS recurrent fortran",
        "NODE mlp_v1 c",
    ]
    if HOST.exists():
        expected += ["REP host", "ERS host recurrent", "PEM host chunk=16", "PET host chunk=16"]
    for test in expected:
        assert rows[test]["verdict"] == "PASS", rows[test]
    assert rows["PEM mlp_v1 chunk=16"]["ranks"] == "1,2,3,4"
    for test in ("PEM mlp_v1 no chunk", "PET mlp_v1 no chunk"):
        assert rows[test]["verdict"] in MEASURED, rows[test]
    formats = [f"FORMATS {m} torchscript vs pt2" for m in ("mlp_v1", "multi_io", "recurrent")]
    if fmt == "pt2":
        for test in formats:
            assert rows[test]["verdict"] in MEASURED, rows[test]
    else:
        assert not set(formats) & set(rows)
    # The table on stdout: one line per row with its verdict.
    for test, row in rows.items():
        assert any(line.startswith(test) and row["verdict"] in line for line in proc.stdout.splitlines())
