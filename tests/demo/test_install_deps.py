"""scripts/install_deps.sh (the Makefile's, CI's and the Dockerfiles' installer), run with
PATH shims for id, dpkg-query and apt-get and a fake virtual environment, so that nothing
is installed: which commands it runs, when, and what it reports."""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "install_deps.sh"
REQUIREMENTS = REPO / "scripts" / "requirements.txt"


def _shim(bindir: Path, name: str, body: str) -> None:
    p = bindir / name
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(0o755)


@pytest.fixture
def sandbox(tmp_path):
    """PATH shims (logging every call to calls.log) and a fake venv whose pip only logs."""
    bindir, venv = tmp_path / "bin", tmp_path / "venv"
    bindir.mkdir()
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "calls.log"
    _shim(bindir, "id", 'echo "${FAKE_UID:-0}"')
    # every package installed except those named in FAKE_MISSING
    _shim(
        bindir,
        "dpkg-query",
        f'pkg=$(eval echo \\${{$#}}); echo "dpkg-query $pkg" >> {log}\n'
        'case " $FAKE_MISSING " in *" $pkg "*) exit 1;; esac\nprintf "install ok installed"',
    )
    _shim(bindir, "apt-get", f'echo "apt-get $*" >> {log}')
    _shim(venv / "bin", "pip", f'echo "pip $*" >> {log}')
    _shim(venv / "bin", "python", f'echo "python $*" >> {log}')

    def run(uid=0, missing=""):
        env = dict(
            os.environ,
            PATH=f"{bindir}:{os.environ['PATH']}",
            HYBRIDGE_VENV=str(venv),
            FAKE_UID=str(uid),
            FAKE_MISSING=missing,
        )
        if log.exists():
            log.unlink()
        proc = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        calls = log.read_text().splitlines() if log.exists() else []
        return proc, calls

    run.venv = venv
    return run


def test_script_parses():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_first_run_installs_python_packages_then_second_only_checks(sandbox):
    proc, calls = sandbox()
    assert proc.returncode == 0, proc.stderr
    pips = [c for c in calls if c.startswith("pip ")]
    # torch pinned and first, then the requirements file
    assert pips[1].split()[-1] == "torch==2.13.0", pips
    assert pips[2].endswith(f"-r {REQUIREMENTS}"), pips
    assert (sandbox.venv / ".hybridge-deps").read_text() == REQUIREMENTS.read_text()
    assert "install_deps: ok (torch 2.13.0" in proc.stdout

    proc, calls = sandbox()
    assert proc.returncode == 0, proc.stderr
    assert not [c for c in calls if c.startswith(("pip ", "apt-get "))], calls
    assert any(c.startswith("python -c import torch") for c in calls)  # the check still runs
    assert "install_deps: ok" in proc.stdout


def test_non_root_with_missing_packages_prints_the_apt_get_command(sandbox):
    proc, calls = sandbox(uid=1000, missing="libnetcdff-dev nlohmann-json3-dev")
    assert proc.returncode == 1
    assert "apt-get install -y --no-install-recommends libnetcdff-dev nlohmann-json3-dev" in proc.stderr
    assert not [c for c in calls if c.startswith(("apt-get ", "pip "))], calls


def test_root_with_missing_packages_installs_only_those(sandbox):
    proc, calls = sandbox(uid=0, missing="cmake")
    assert proc.returncode == 0, proc.stderr
    apt = [c for c in calls if c.startswith("apt-get ")]
    assert apt[0] == "apt-get update -q" and apt[1].split()[-1] == "cmake" and "install" in apt[1], apt
    assert len(apt) == 2


def test_real_package_check_as_non_root_installs_nothing(tmp_path):
    """With the real dpkg-query: either every Debian package is there ('ok', as on the
    project's machines) or the script stops and prints the one apt-get command to run."""
    bindir, venv = tmp_path / "bin", tmp_path / "venv"
    bindir.mkdir()
    (venv / "bin").mkdir(parents=True)
    _shim(bindir, "id", "echo 1000")
    _shim(venv / "bin", "python", "exit 0")
    (venv / ".hybridge-deps").write_text(REQUIREMENTS.read_text())
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", HYBRIDGE_VENV=str(venv))
    proc = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode == 0:
        assert proc.stdout.strip() == f"install_deps: ok (torch 2.13.0 in {venv})"
    else:
        assert proc.returncode == 1 and "sudo sh -c 'apt-get update && apt-get install -y" in proc.stderr
