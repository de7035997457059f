"""Running hybridge-host (fortran/host) from Python: namelist, ``mpirun``, its per-step log.

The host prints one log row per ``log_interval_steps`` on rank 0 (hybridge_host.f90):
``step date T_mean[K] dE_phys E_sources E_resid[W/m2] dW_phys W_sources W_resid[kg/m2/s]
precip[mm/d] fallback qneg steps/s guarded`` (``guarded``: columns outside the emulator's
training range, namelist ``ml_guard``; logs of hosts older than the guard lack it and read
as 0). A run that the stability guard or the emulator stops
exits non-zero after its last completed step's row, so the number of rows (at
``log_interval_steps = 1``) is the number of steps the run survived.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

from hybridge import install

STEPS_PER_DAY = 72  # dtime = 1200 s
LOG_COLUMNS = (
    "step",
    "date",
    "t_mean",
    "de_phys",
    "e_sources",
    "e_resid",
    "dw_phys",
    "w_sources",
    "w_resid",
    "precip",
    "fallback",
    "qneg",
    "steps_per_s",
    "guarded",
)


class HostError(RuntimeError):
    """hybridge-host is missing or refused its configuration."""


def find_host() -> Path:
    """hybridge-host (hybridge.install.host_executable); HostError when it is nowhere."""
    try:
        return install.host_executable()
    except install.NotInstalledError as e:
        raise HostError(str(e)) from None


def namelist_text(**keys) -> str:
    """A ``&hybridge_nl`` group: strings quoted, bools as .true./.false., lists comma-separated."""
    lines = ["&hybridge_nl"]
    for k, v in keys.items():
        if isinstance(v, bool):
            v = ".true." if v else ".false."
        elif isinstance(v, (str, Path)):
            v = f"'{v}'"
        elif isinstance(v, (list, tuple)):
            v = ", ".join(f"'{x}'" for x in v)
        lines.append(f"  {k} = {v}")
    return "\n".join([*lines, "/"]) + "\n"


@dataclasses.dataclass
class HostRun:
    """What one host run did: its log rows and how it ended."""

    run_dir: Path
    steps_requested: int
    returncode: int
    rows: list[dict]
    error: str = ""  # the host's last error line when it stopped early

    @property
    def steps_survived(self) -> int:
        return len(self.rows)

    @property
    def completed(self) -> bool:
        return self.returncode == 0 and self.steps_survived == self.steps_requested


def parse_log(stdout: str) -> list[dict]:
    """The per-step rows of the host's log as dicts keyed by :data:`LOG_COLUMNS`.

    A value Fortran could not fit in its field (``*****``) becomes NaN."""
    rows = []
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) not in (len(LOG_COLUMNS), len(LOG_COLUMNS) - 1) or not parts[0].isdigit():
            continue
        row = {"step": int(parts[0]), "date": parts[1], "guarded": 0.0}
        for key, text in zip(LOG_COLUMNS[2:], parts[2:], strict=False):
            try:
                row[key] = float(text)
            except ValueError:
                row[key] = float("nan")
        rows.append(row)
    return rows


def _last_error(stderr: str) -> str:
    """The host's own last message on stderr (``hybridge-host: rank N: ...`` from abort_run,
    ``hybridge-host: error: ...`` for a configuration error), else the last stderr line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    own = [ln for ln in lines if ln.startswith("hybridge-host:")]
    return (own or lines or [""])[-1]


def run_host(
    run_dir: Path, nranks: int, steps: int, timeout: float | None = None, host: Path | None = None, **namelist
) -> HostRun:
    """Write ``run_dir/atm_in`` and run ``mpirun -n nranks hybridge-host atm_in`` in run_dir.

    ``steps`` host steps (stop_option = 'nsteps'); the log goes to ``run_dir/host.log``.
    A run that stops early (stability guard, emulator failure) is returned, not raised:
    how long a hybrid run survives is a result. A run that produced no step at all and
    failed is a configuration problem and raises :class:`HostError` with the host's message.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    host = host or find_host()
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise HostError("mpirun not found on PATH (Open MPI is installed by scripts/install_deps.sh)")
    keys = dict(stop_option="nsteps", stop_n=steps, log_interval_steps=1, **namelist)
    (run_dir / "atm_in").write_text(namelist_text(**keys))
    env = dict(
        os.environ,
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
        OMP_NUM_THREADS="1",
    )
    cmd = [mpirun, "-n", str(nranks), str(host), "atm_in"]
    try:
        proc = subprocess.run(cmd, cwd=run_dir, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise HostError(f"{' '.join(cmd)} in {run_dir}: no result after {timeout:.0f} s") from e
    (run_dir / "host.log").write_text(proc.stdout + proc.stderr)
    rows = parse_log(proc.stdout)
    result = HostRun(
        run_dir, steps, proc.returncode, rows, _last_error(proc.stderr) if proc.returncode else ""
    )
    if proc.returncode != 0 and not rows:
        raise HostError(
            f"hybridge-host failed in {run_dir} before its first step "
            f"(exit {proc.returncode}): {result.error or proc.stderr.strip()[-500:]}"
        )
    return result
