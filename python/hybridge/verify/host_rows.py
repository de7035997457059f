"""Matrix rows that run the host model, ``hybridge-host``, in ML mode and compare every
netCDF file it writes (ClimSim .mli/.mlo, history, restart, ML state included) variable
by variable, byte for byte.

The host runs are launched with ``mpirun`` by rank 0 of the harness (with the harness's
own MPI environment removed, so the host gets a fresh MPI job); the other harness ranks
sleep meanwhile.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import netCDF4
import numpy as np

from hybridge.verify.api_rows import block_counts, quiet_wait
from hybridge.verify.compare import Difference, compare
from hybridge.verify.matrix import Row

# The host's dynamics for the rows: "none" runs on the ClimSim grid (384 columns); "spectral"
# on the spectral core's T21 Gaussian grid (2048 columns, rows of 64 split over the ranks) with
# the 60 ClimSim levels the rows' v1 emulator needs.
DYNAMICS = {
    "none": {},
    "spectral": {"dynamics": "spectral", "truncation": "T21", "nlev": 60},
}


@dataclass
class HostSettings:
    exe: Path
    model: Path
    workdir: Path
    steps: int = 6
    chunk: int = 16
    ranks: tuple[int, ...] = (1, 2, 3, 4)
    threads: tuple[int, int] = (1, 2)
    timeout_s: float = 300.0
    drop_restart_state: bool = False  # mutation: ERS continues from a restart without ml_state
    dynamics: dict = field(default_factory=dict)  # namelist keys of the host's dynamics (DYNAMICS)


def _env() -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OMPI_", "PMIX_", "PRTE_", "OPAL_", "HYDRA_"))
    }
    env.update(
        OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1"
    )
    return env


def _namelist(path: Path, keys: dict) -> None:
    lines = ["&hybridge_nl"]
    for k, v in keys.items():
        v = f"'{v}'" if isinstance(v, (str, Path)) else (".true." if v is True else v)
        lines.append(f"  {k} = {v}")
    path.write_text("\n".join([*lines, "/", ""]))


def run_host(s: HostSettings, name: str, nranks: int, continue_run: bool = False, **keys) -> Path:
    """One host run in workdir/name (emptied first unless ``continue_run``, which keeps the
    files of the run being continued); returns its output folder. Raises RuntimeError with
    the end of the host's stderr when it fails."""
    run_dir = s.workdir / name
    if not continue_run:
        shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    base = {
        "physics_mode": "ml",
        "model_path": str(s.model),
        "ml_chunk": s.chunk,
        "num_threads": 1,
        "stop_option": "nsteps",
        "stop_n": s.steps,
        "mli_interval_steps": 1,
        "history_interval_steps": s.steps,
        "log_interval_steps": s.steps,
        "output_dir": "out",
    }
    base.update(s.dynamics)
    base.update(keys)
    _namelist(run_dir / "atm_in", base)
    cmd = ["mpirun", "-n", str(nranks), "--oversubscribe", str(s.exe), "atm_in"]
    proc = subprocess.run(cmd, cwd=run_dir, env=_env(), capture_output=True, text=True, timeout=s.timeout_s)
    (run_dir / "host.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        # The host's own message, not mpirun's epilogue about the exit code.
        said = [
            ln
            for ln in (proc.stdout + proc.stderr).splitlines()
            if "error" in ln.lower() and ln.startswith("hybridge-host")
        ]
        raise RuntimeError(
            f"{' '.join(cmd)} in {run_dir} failed ({proc.returncode}): "
            + (said[0] if said else proc.stderr.strip()[-400:])
        )
    return run_dir / "out"


def without_ml_state(restart: Path) -> Path:
    """A copy of a restart file without the emulator's recurrent state (variable ml_state,
    dimension ml_state_len), written next to it: what a restart that forgot the state holds."""
    out = restart.with_name(restart.stem + ".no_ml_state.nc")
    tmp = out.with_suffix(".nc.tmp")
    with netCDF4.Dataset(restart) as src, netCDF4.Dataset(tmp, "w", format=src.data_model) as dst:
        dst.setncatts({k: src.getncattr(k) for k in src.ncattrs()})
        for name, dim in src.dimensions.items():
            if name != "ml_state_len":
                dst.createDimension(name, None if dim.isunlimited() else len(dim))
        for name, var in src.variables.items():
            if name == "ml_state":
                continue
            v = dst.createVariable(name, var.datatype, var.dimensions)
            v.setncatts({k: var.getncattr(k) for k in var.ncattrs()})
            v[...] = var[...]
    os.replace(tmp, out)
    return out


def _rank_columns(out: Path, nranks: int) -> list[int]:
    """Columns per rank as the host splits its grid (for naming the rank of a difference):
    contiguous blocks of columns on the ClimSim grid, of whole latitude rows on the spectral
    core's Gaussian grid (its grid file's columns share a latitude row by row)."""
    grid = sorted(out.glob("*.grid-info.nc"))
    if not grid:
        return block_counts(384, nranks)
    with netCDF4.Dataset(grid[0]) as g:
        lat = np.asarray(g["lat"][:])
    if lat.size == 384:
        return block_counts(lat.size, nranks)
    nlon = int(np.argmax(lat != lat[0])) or lat.size
    return [c * nlon for c in block_counts(lat.size // nlon, nranks)]


def compare_runs(reference: Path, candidate: Path, candidate_ranks: int, label: str = "") -> list[Difference]:
    """Every netCDF file of the reference run against the same file of the candidate
    (``label`` names the candidate in the report, e.g. "3 ranks")."""
    files = sorted(p.relative_to(reference) for p in reference.rglob("*.nc"))
    if not files:
        raise RuntimeError(f"{reference}: the host wrote no netCDF files to compare")
    counts = _rank_columns(reference, candidate_ranks)
    out = []
    for f in files:
        if not (candidate / f).exists():
            raise RuntimeError(f"{candidate / f}: missing (the reference run wrote it)")
        with netCDF4.Dataset(reference / f) as a, netCDF4.Dataset(candidate / f) as b:
            if set(a.variables) != set(b.variables):
                raise RuntimeError(f"{f}: variables differ: {sorted(set(a.variables) ^ set(b.variables))}")
            for var, va in a.variables.items():
                xa, xb = np.asarray(va[...]), np.asarray(b.variables[var][...])
                tensor = f"{label}: {f.name}:{var}" if label else f"{f.name}:{var}"
                if "ncol" in va.dimensions:
                    axis = va.dimensions.index("ncol")
                    n = int(np.prod(xa.shape)) // xa.shape[axis]
                    out.append(compare(tensor, xa, xb, counts=counts, column_axis=axis, layout=[(var, 0, n)]))
                else:
                    d = compare(tensor, xa.reshape(1, -1), xb.reshape(1, -1), layout=[(var, 0, xa.size)])
                    d.column = None
                    out.append(d)
    return out


def host_rows(comm, s: HostSettings, tests=("REP", "ERS", "PEM", "PET")) -> list[Row]:
    """REP, ERS, PEM and PET (those in ``tests``) of the host model in ML mode; rank 0
    runs them."""
    rows: list[Row] = []
    two = min(2, max(s.ranks))
    half = s.steps // 2

    def rep():
        a = run_host(s, "rep_a", two)
        return compare_runs(a, run_host(s, "rep_b", two), two)

    def ers():
        straight = run_host(s, "ers_straight", two)
        run_host(s, "ers_split", two, stop_n=half)
        restart = sorted((s.workdir / "ers_split" / "out").glob("*.r.*.nc"))
        if not restart:
            raise RuntimeError("the stopped run wrote no restart file")
        restart_file = without_ml_state(restart[-1]) if s.drop_restart_state else restart[-1]
        split = run_host(
            s, "ers_split", two, continue_run=True, stop_n=s.steps - half, restart_file=str(restart_file)
        )
        return compare_runs(straight, split, two)

    def pem(chunk):
        def body():
            ref = run_host(s, f"pem{chunk}_n{s.ranks[0]}", s.ranks[0], ml_chunk=chunk)
            return [
                d
                for n in s.ranks[1:]
                for d in compare_runs(
                    ref, run_host(s, f"pem{chunk}_n{n}", n, ml_chunk=chunk), n, f"{n} ranks"
                )
            ]

        return body

    def pet(chunk):
        def body():
            t0, t1 = s.threads
            ref = run_host(s, f"pet{chunk}_t{t0}", two, num_threads=t0, ml_chunk=chunk)
            return compare_runs(
                ref,
                run_host(s, f"pet{chunk}_t{t1}", two, num_threads=t1, ml_chunk=chunk),
                two,
                f"{t1} threads",
            )

        return body

    plan = [
        (Row("REP host", str(two), "1"), rep),
        (Row("ERS host recurrent", str(two), "1"), ers),
        (Row(f"PEM host chunk={s.chunk}", ",".join(map(str, s.ranks)), "1"), pem(s.chunk)),
        (Row("PEM host no chunk", ",".join(map(str, s.ranks)), "1", expect_equal=False), pem(0)),
        (Row(f"PET host chunk={s.chunk}", str(two), f"{s.threads[0]} vs {s.threads[1]}"), pet(s.chunk)),
        (Row("PET host no chunk", str(two), f"{s.threads[0]} vs {s.threads[1]}", expect_equal=False), pet(0)),
    ]
    for row, body in plan:
        if row.test.split()[0] not in tests:
            continue
        t0 = time.perf_counter()
        if comm.rank == 0:
            try:
                row.differences = body()
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                row.error = str(e)
        quiet_wait(comm)
        row.seconds = time.perf_counter() - t0
        rows.append(row)
    return rows
