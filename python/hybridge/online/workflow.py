"""The stages of the ClimSim-Online loop on hybridge-host, shared by ``hybridge demo`` and
``hybridge ensemble``:

1. :func:`make_reference`  conventional physics in two legs: a training leg that writes
   ``.mli``/``.mlo`` pairs and ends with a restart file (the hybrid runs' initial state),
   and an evaluation leg continued from that restart (what the hybrid runs are judged against);
2. :func:`train_and_export`  ``hybridge train`` on the training leg, ``hybridge export``;
3. :func:`run_hybrid`  the host from the same restart with physics_mode ml or partial;
4. :func:`evaluate_run`  online metrics of a hybrid run against the evaluation leg.

Layout under the output folder: ``reference/{train,eval,train_cache}/``,
``<emulator>/{train/,model.pt}``, ``<hybrid run>/{atm_in,host.log,output/}``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from .. import cli
from ..data import load_grid
from ..data.climsim import P0
from ..files import read_json, write_json
from .host import STEPS_PER_DAY, HostRun, run_host
from .metrics import (
    budget_residuals,
    common_stamps,
    compare,
    complete_pairs,
    guard_statistics,
    load_trajectory,
)

CASE = "E3SM-MMF"
V1_MLP_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "v1_mlp.yaml"
HOST_SECONDS_PER_STEP_MAX = 10.0  # a host run slower than this is taken as hung (2 cores: ~0.5 s)
# reference.json: a record without one of these keys (an older layout) is not reused
RECORD_KEYS = {
    "settings",
    "restart_file",
    "train_data",
    "train_cache",
    "eval_data",
    "train_steps",
    "eval_steps",
    "budget",
}


def days_to_steps(days: float, what: str) -> int:
    steps = round(days * STEPS_PER_DAY)
    if steps < 1:
        raise ValueError(f"{what} = {days} days is less than one 1200 s step")
    return steps


def _timeout(steps: int) -> float:
    return max(600.0, steps * HOST_SECONDS_PER_STEP_MAX)


def pressure_hpa() -> np.ndarray:
    """Mid-level pressure (hPa) of the grid at PS = 1000 hPa, for plots."""
    g = load_grid()
    return (g.hyam * P0 + g.hybm * P0) / 100.0


def make_reference(
    out: Path, train_days: float, eval_days: float, nranks: int, train_interval: int, eval_interval: int
) -> dict:
    """Run (or reuse) the two-leg reference under ``out/reference``; returns its record.

    The record (``reference.json``, written last) names the restart file the hybrid runs
    start from; a reference made with other settings is run again from scratch."""
    ref = Path(out) / "reference"
    settings = {
        "train_days": train_days,
        "eval_days": eval_days,
        "train_interval_steps": train_interval,
        "eval_interval_steps": eval_interval,
        "nranks": nranks,
    }
    record_path = ref / "reference.json"
    if record_path.exists():
        record = read_json(record_path, "reference record")
        if record.get("settings") == settings and set(record) >= RECORD_KEYS:
            return record
    if ref.exists():
        shutil.rmtree(ref)
    train_steps = days_to_steps(train_days, "reference training days")
    eval_steps = days_to_steps(eval_days, "hybrid days")
    common = {
        "physics_mode": "conventional",
        "history_interval_steps": 0,
        "restart_interval_steps": 0,
        "output_dir": "output",
        "case_name": CASE,
    }
    leg1 = run_host(
        ref / "train",
        nranks,
        train_steps,
        timeout=_timeout(train_steps),
        mli_interval_steps=train_interval,
        restart_at_end=True,
        **common,
    )
    _require_complete(leg1, "reference training leg")
    (restart,) = sorted((ref / "train" / "output").glob(f"{CASE}.r.*.nc"))
    leg2 = run_host(
        ref / "eval",
        nranks,
        eval_steps,
        timeout=_timeout(eval_steps),
        mli_interval_steps=eval_interval,
        restart_at_end=False,
        restart_file=str(restart.resolve()),
        **common,
    )
    _require_complete(leg2, "reference evaluation leg")
    record = {
        "settings": settings,
        "restart_file": str(restart.resolve()),
        "train_data": str((ref / "train" / "output").resolve()),
        "train_cache": str((ref / "train_cache").resolve()),
        "eval_data": str((ref / "eval" / "output").resolve()),
        "train_steps": train_steps,
        "eval_steps": eval_steps,
        "budget": budget_residuals(leg2.rows),
    }
    write_json(record_path, record)
    return record


def _require_complete(run: HostRun, what: str) -> None:
    if not run.completed:
        raise RuntimeError(
            f"{what} stopped after {run.steps_survived} of {run.steps_requested} steps "
            f"({run.run_dir}/host.log): {run.error}"
        )


def train_and_export(
    reference: dict,
    out: Path,
    epochs: int,
    hidden: list[int],
    seed: int = 0,
    batch_size: int = 1024,
    extra_sets: list[str] | None = None,
) -> Path:
    """``hybridge train`` (the ClimSim v1 MLP config with its physics constraints) on the
    reference's training leg and ``hybridge export`` into ``out/model.pt``; returns the model
    path. Normalization statistics come from the training data: the ClimSim ones describe
    E3SM-MMF, not this host (with them, the default demo's emulator reached an offline R² of
    0.12 and its ML run crashed after 106 of 360 steps; with the data's own it ran all 360).
    The preprocessed pairs are cached once next to the reference (``.npy``, written
    atomically), so every epoch and every ensemble member reads them without netCDF."""
    out = Path(out)
    data, cache = Path(reference["train_data"]), Path(reference["train_cache"])
    sets = [
        f"model_options={{hidden: {list(hidden)}}}",
        f"seed={seed}",
        "patience=1000000",
        "normalization=data",
        *(extra_sets or []),
    ]
    argv = [
        "train",
        "-c",
        str(V1_MLP_CONFIG),
        "--data",
        str(data),
        "--out",
        str(out / "train"),
        "--epochs",
        str(epochs),
        "--batch-size",
        str(batch_size),
        "--device",
        "cpu",
        "--no-progress",
        "--overwrite",  # each workflow run trains its emulator afresh
        "--cache-dir",
        str(cache),
    ]
    for s in sets:
        argv += ["--set", s]
    _cli(argv)
    model = out / "model.pt"
    _cli(["export", str(out / "train" / "best.pt"), "-o", str(model)])
    return model


def _cli(argv: list[str]) -> None:
    print("+ hybridge " + " ".join(a if " " not in a else repr(a) for a in argv), flush=True)
    if cli.main(argv) != 0:
        raise RuntimeError(f"hybridge {argv[0]} failed (see the message above)")


def run_hybrid(
    run_dir: Path,
    reference: dict,
    model: Path,
    physics_mode: str,
    nranks: int,
    ml_variables: list[str] | None = None,
    nonfinite_policy: str = "abort",
    ml_guard: str = "off",
    ml_guard_margin: float | None = None,
) -> HostRun:
    """The host from the reference's restart with the emulator, as long as the evaluation leg
    and with its output interval (so the time stamps match); a fresh ``run_dir`` each time so
    that no file of an earlier run is mistaken for this one's. ``ml_guard`` and
    ``ml_guard_margin``: the host's out-of-distribution guard (docs/host_model.md); a margin of
    None keeps the host's default."""
    run_dir = Path(run_dir)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    keys = {
        "physics_mode": physics_mode,
        "model_path": str(Path(model).resolve()),
        "restart_file": reference["restart_file"],
        "mli_interval_steps": reference["settings"]["eval_interval_steps"],
        "history_interval_steps": 0,
        "restart_at_end": False,
        "output_dir": "output",
        "case_name": CASE,
        "nonfinite_policy": nonfinite_policy,
        "num_threads": 1,
    }
    if physics_mode == "partial":
        keys["ml_variables"] = list(ml_variables or [])
    if ml_guard != "off":
        keys["ml_guard"] = ml_guard
        if ml_guard_margin is not None:
            keys["ml_guard_margin"] = float(ml_guard_margin)
    steps = reference["eval_steps"]
    return run_host(run_dir, nranks, steps, timeout=_timeout(steps), **keys)


def evaluate_run(
    name: str, run: HostRun, reference: dict, physics_mode: str, ml_variables: list[str] | None = None
) -> dict:
    """Online metrics of one hybrid run (JSON-ready), see :mod:`hybridge.online.metrics`."""
    result = {
        "name": name,
        "physics_mode": physics_mode,
        "ml_variables": list(ml_variables or []),
        "steps_requested": run.steps_requested,
        "steps_survived": run.steps_survived,
        "survival_days": run.steps_survived / STEPS_PER_DAY,
        "completed": run.completed,
        "error": run.error,
        "budget": budget_residuals(run.rows),
        "guard": guard_statistics(run.rows, load_grid().lat.size, STEPS_PER_DAY),
        "metrics": None,
    }
    out = run.run_dir / "output"
    if out.is_dir() and complete_pairs(out, CASE):  # a run stopped in its first step has none
        ref = load_trajectory(Path(reference["eval_data"]), CASE)
        hyb = load_trajectory(out, CASE)
        stamps = common_stamps(ref, hyb, reference["eval_data"], out)
        result["metrics"] = compare(ref.select(stamps), hyb.select(stamps), load_grid())
    return result
