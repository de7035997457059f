"""Helpers of the harness tests: run ``python -m hybridge.verify`` under mpirun and read
its JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("HYBRIDGE_BUILD", REPO / "build"))
HOST = BUILD / "bin" / "hybridge-host"


def mpi_env() -> dict:
    return dict(
        os.environ,
        HYBRIDGE_BUILD=str(BUILD),
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
    )


def run_verify(workdir: Path, nranks: int, *args: str, timeout: float = 600):
    """(completed process, JSON report) of one harness run on nranks ranks."""
    report = workdir / "report.json"
    cmd = [
        "mpirun",
        "-n",
        str(nranks),
        "--oversubscribe",
        sys.executable,
        "-m",
        "hybridge.verify",
        "--workdir",
        str(workdir),
        "--json",
        str(report),
        *args,
    ]
    proc = subprocess.run(cmd, env=mpi_env(), capture_output=True, text=True, timeout=timeout)
    data = json.loads(report.read_text()) if report.exists() else None
    return proc, data


def rows_by_test(report: dict) -> dict[str, dict]:
    return {r["test"]: r for r in report["rows"]}
