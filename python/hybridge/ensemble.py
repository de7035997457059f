"""``hybridge ensemble SPEC``: train and run an ensemble of hybrid simulations, summarise
online error and survival.

Lin et al. (2023) show that O(100) hybrid runs are needed to tell a design effect from
seed noise. The YAML spec crosses seeds with configurations; member ``i`` is
configuration ``i // len(seeds)`` with seed ``seeds[i % len(seeds)]``::

    out: ensemble_out            # optional; --out wins
    reference:                   # made once (conventional physics), shared by all members
      train_days: 365            # training data: the seasonal cycle
      hybrid_days: 5             # length of every hybrid run and of the reference it is judged on
                                 # (365: the survival benchmark's year, over seeds)
      train_interval: 73         # .mli/.mlo every N steps in the training leg
      output_interval: 3         # .mli/.mlo every N steps in the evaluated runs
      ranks: 2
    ranks_per_member: 1          # MPI ranks of each hybrid run
    seeds: [0, 1, 2]
    configurations:              # name -> settings (all optional)
      mlp_small: {hidden: [128, 128], epochs: 3}
      mlp_wide:  {hidden: [512, 512], epochs: 3, physics_mode: partial, ml_variables: [ptend_t]}
    slurm: {partition: cpu, time: "02:00:00", account: null, extra: []}   # for --slurm

An example: ``python/hybridge/online/ensemble_example.yaml``. Configuration keys: hidden,
epochs, batch_size, physics_mode (ml | partial), ml_variables, nonfinite_policy
(abort | fallback), ml_guard (off | fallback | clip: the host's out-of-distribution guard),
ml_guard_margin (its margin, a fraction of the training range; null: the host's default),
train_set (extra ``hybridge train --set`` items).

Locally the members run in parallel, as many at a time as the machine's cores allow
(``--jobs``); ``--slurm`` writes Slurm batch scripts instead (the reference, a job array
of members, the summary, chained by dependencies) and runs nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import io
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from .files import atomic, read_json, write_json, write_text
from .online.host import STEPS_PER_DAY
from .online.report import markdown_table
from .online.workflow import evaluate_run, make_reference, run_hybrid, train_and_export

# the same sizes as `hybridge demo`, so an ensemble in the demo's folder reuses its reference
REFERENCE_DEFAULTS = {
    "train_days": 365.0,
    "hybrid_days": 5.0,
    "train_interval": 73,
    "output_interval": 3,
    "ranks": 2,
}
CONFIG_DEFAULTS = {
    "hidden": [512, 512, 512, 512],
    "epochs": 15,
    "batch_size": 1024,
    "physics_mode": "ml",
    "ml_variables": [],
    "nonfinite_policy": "abort",
    "ml_guard": "off",
    "ml_guard_margin": None,
    "train_set": [],
}
SLURM_DEFAULTS = {"partition": None, "time": "02:00:00", "account": None, "extra": []}
SPEC_KEYS = {"out", "reference", "ranks_per_member", "seeds", "configurations", "slurm"}


class SpecError(ValueError):
    """The ensemble spec is missing, malformed or holds an unknown key or bad value."""


def _merge(defaults: dict, given, where: str) -> dict:
    given = given or {}
    if not isinstance(given, dict):
        raise SpecError(f"{where}: expected a mapping, got {type(given).__name__}")
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise SpecError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(defaults))}")
    return {**defaults, **given}


def load_spec(path) -> dict:
    """Read and check a spec; returns it with every default filled in."""
    path = Path(path)
    if not path.exists():
        raise SpecError(f"ensemble spec not found: {path}")
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(spec, dict):
        raise SpecError(f"{path}: expected a mapping with keys {', '.join(sorted(SPEC_KEYS))}")
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise SpecError(f"{path}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(SPEC_KEYS))}")
    seeds = spec.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise SpecError(f"{path}: seeds must be a non-empty list of integers, got {seeds!r}")
    configs = spec.get("configurations")
    if not isinstance(configs, dict) or not configs:
        raise SpecError(f"{path}: configurations must be a non-empty mapping name -> settings")
    out = {
        "out": spec.get("out", "ensemble_out"),
        "seeds": seeds,
        "ranks_per_member": int(spec.get("ranks_per_member", 1)),
        "reference": _merge(REFERENCE_DEFAULTS, spec.get("reference"), f"{path}: reference"),
        "slurm": _merge(SLURM_DEFAULTS, spec.get("slurm"), f"{path}: slurm"),
        "configurations": {},
    }
    for name, cfg in configs.items():
        where = f"{path}: configurations.{name}"
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            raise SpecError(f"{where}: a configuration name must be letters, digits, '-' or '_'")
        c = _merge(CONFIG_DEFAULTS, cfg, where)
        if c["physics_mode"] not in ("ml", "partial"):
            raise SpecError(f"{where}: physics_mode must be 'ml' or 'partial', got {c['physics_mode']!r}")
        if c["physics_mode"] == "partial" and not c["ml_variables"]:
            raise SpecError(f"{where}: physics_mode 'partial' needs ml_variables")
        if c["nonfinite_policy"] not in ("abort", "fallback"):
            raise SpecError(f"{where}: nonfinite_policy must be 'abort' or 'fallback'")
        if c["ml_guard"] not in ("off", "fallback", "clip"):
            raise SpecError(f"{where}: ml_guard must be 'off', 'fallback' or 'clip', got {c['ml_guard']!r}")
        margin = c["ml_guard_margin"]
        if margin is not None and not (
            isinstance(margin, (int, float)) and not isinstance(margin, bool) and 0 <= margin <= 1000
        ):
            raise SpecError(f"{where}: ml_guard_margin must be a number from 0 to 1000, got {margin!r}")
        if not (
            isinstance(c["hidden"], list)
            and c["hidden"]
            and all(isinstance(h, int) and h > 0 for h in c["hidden"])
        ):
            raise SpecError(f"{where}: hidden must be a list of positive integers, got {c['hidden']!r}")
        out["configurations"][name] = c
    if out["ranks_per_member"] < 1:
        raise SpecError(f"{path}: ranks_per_member must be >= 1")
    return out


def members(spec: dict) -> list[dict]:
    """Configuration-major list of members: name, configuration, seed, settings."""
    return [
        {
            "index": i * len(spec["seeds"]) + j,
            "name": f"{cname}-s{seed}",
            "configuration": cname,
            "seed": seed,
            "settings": cfg,
        }
        for i, (cname, cfg) in enumerate(spec["configurations"].items())
        for j, seed in enumerate(spec["seeds"])
    ]


def ensure_reference(spec: dict, out: Path) -> dict:
    r = spec["reference"]
    return make_reference(
        out, r["train_days"], r["hybrid_days"], r["ranks"], r["train_interval"], r["output_interval"]
    )


def run_member(spec: dict, out: Path, index: int) -> dict:
    """Train, export, run and evaluate member ``index``; writes ``members/<name>/result.json``."""
    all_members = members(spec)
    if not 0 <= index < len(all_members):
        raise SpecError(
            f"member {index} does not exist: the spec has {len(all_members)} members "
            f"(0 .. {len(all_members) - 1})"
        )
    m = all_members[index]
    record = out / "reference" / "reference.json"
    reference = read_json(record, "reference record (run `hybridge ensemble SPEC --reference-only` first)")
    c = m["settings"]
    mdir = out / "members" / m["name"]
    model = train_and_export(
        reference, mdir / "emulator", c["epochs"], c["hidden"], m["seed"], c["batch_size"], c["train_set"]
    )
    host_run = run_hybrid(
        mdir / "hybrid",
        reference,
        model,
        c["physics_mode"],
        spec["ranks_per_member"],
        c["ml_variables"],
        c["nonfinite_policy"],
        c["ml_guard"],
        c["ml_guard_margin"],
    )
    result = evaluate_run(m["name"], host_run, reference, c["physics_mode"], c["ml_variables"])
    result.update(configuration=m["configuration"], seed=m["seed"], index=index)
    write_json(mdir / "result.json", result)
    return result


def run_local(spec_path: Path, spec: dict, out: Path, jobs: int) -> list[int]:
    """Every member as its own ``hybridge ensemble --member I`` process, ``jobs`` at a time;
    returns the indices of the members whose process failed."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    def launch(m) -> int:
        cmd = [
            sys.executable,
            "-m",
            "hybridge.cli",
            "ensemble",
            str(spec_path),
            "--out",
            str(out),
            "--member",
            str(m["index"]),
        ]
        with open(logs / f"{m['name']}.log", "w") as log:
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
        print(
            f"  member {m['index']} {m['name']}: "
            + ("done" if rc == 0 else f"FAILED (exit {rc}, see {logs / (m['name'] + '.log')})"),
            flush=True,
        )
        return rc

    to_run = members(spec)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        codes = list(pool.map(launch, to_run))
    return [m["index"] for m, rc in zip(to_run, codes, strict=True) if rc != 0]


def survival_curve(steps_survived: list[int], steps_requested: int) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of runs still alive after each step 0..steps_requested."""
    s = np.asarray(steps_survived)
    steps = np.arange(steps_requested + 1)
    return steps, (s[None, :] >= steps[:, None]).mean(1)


def summarize(spec: dict, out: Path) -> Path:
    """``summary.md``, ``summary.csv`` and ``survival.png`` from the members' result files."""
    results, missing = [], []
    for m in members(spec):
        path = out / "members" / m["name"] / "result.json"
        (results.append(read_json(path, "member result")) if path.exists() else missing.append(m["name"]))
    if not results:
        raise RuntimeError(f"no member of the ensemble in {out} has a result.json")
    rows = []
    for r in results:
        met = r.get("metrics") or {}
        rows.append(
            {
                "member": r["name"],
                "configuration": r["configuration"],
                "seed": r["seed"],
                "steps_survived": r["steps_survived"],
                "steps_requested": r["steps_requested"],
                "final_rmse_t_K": met.get("final_rmse_t_K", math.nan),
                "final_rmse_q_g_per_kg": met.get("final_rmse_q_g_per_kg", math.nan),
                "mean_rmse_t_K": met.get("mean_rmse_t_K", math.nan),
                "mean_rmse_q_g_per_kg": met.get("mean_rmse_q_g_per_kg", math.nan),
                "mean_guarded_fraction": (r.get("guard") or {}).get("mean_guarded_fraction", math.nan),
            }
        )
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    write_text(out / "summary.csv", buf.getvalue())

    by_config = {}
    for r in rows:
        by_config.setdefault(r["configuration"], []).append(r)
    table = []
    for cname, rs in by_config.items():
        surv = [r["steps_survived"] / r["steps_requested"] for r in rs]

        def spread(key, rs=rs):
            v = np.array([r[key] for r in rs], dtype=float)
            v = v[np.isfinite(v)]
            return f"{v.mean():.3g} ± {v.std():.2g}" if v.size else "n/a"

        table.append(
            {
                "configuration": cname,
                "members": len(rs),
                "completed": f"{sum(s >= 1 for s in surv)}/{len(rs)}",
                "median survival (days)": (
                    f"{np.median([r['steps_survived'] for r in rs]) / STEPS_PER_DAY:.2f}"
                ),
                "mean RMSE T (K)": spread("mean_rmse_t_K"),
                "mean RMSE q (g/kg)": spread("mean_rmse_q_g_per_kg"),
                "guarded fraction": spread("mean_guarded_fraction"),
            }
        )
    _plot_survival(by_config, out / "survival.png")
    text = [
        "# hybridge ensemble",
        "",
        f"{len(results)} members ({len(by_config)} configurations x seeds {spec['seeds']}); "
        "RMSE: global, column area x layer mass weighted, against the reference run; "
        "mean ± standard deviation over seeds.",
        "",
        markdown_table(table),
        "![survival](survival.png)",
        "",
        "## Members",
        "",
        markdown_table(
            [{k: (f"{v:.3g}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
        ),
    ]
    if missing:
        text += ["", f"Members without a result (failed or not run): {', '.join(missing)}"]
    report = write_text(out / "summary.md", "\n".join(text) + "\n")
    print(markdown_table(table), end="")
    return report


def _plot_survival(by_config: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    for cname, rs in by_config.items():
        steps, alive = survival_curve(
            [r["steps_survived"] for r in rs], max(r["steps_requested"] for r in rs)
        )
        ax.step(steps / STEPS_PER_DAY, alive, where="post", label=f"{cname} ({len(rs)} runs)")
    ax.set_xlabel("days since hybrid start")
    ax.set_ylabel("fraction of runs still running")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title("Survival of the hybrid runs", fontsize="medium")
    fig.tight_layout()
    atomic(path, lambda t: fig.savefig(t, format="png", dpi=90))
    plt.close(fig)


def write_slurm(spec_path: Path, spec: dict, out: Path) -> Path:
    """Slurm scripts under ``out/slurm``: reference, member array, summary, and submit.sh
    that chains them with ``--dependency``; returns submit.sh."""
    s = spec["slurm"]
    d = out / "slurm"
    d.mkdir(parents=True, exist_ok=True)
    n = len(members(spec))
    base = [f"#SBATCH --time={s['time']}"]
    base += [f"#SBATCH --partition={s['partition']}"] if s["partition"] else []
    base += [f"#SBATCH --account={s['account']}"] if s["account"] else []
    base += [f"#SBATCH {x}" for x in s["extra"]]
    cmd = (
        f"{shlex.quote(sys.executable)} -m hybridge.cli ensemble {shlex.quote(str(spec_path.resolve()))} "
        f"--out {shlex.quote(str(out.resolve()))}"
    )
    logs = shlex.quote(str((out / "logs").resolve()))

    def job(name, ntasks, extra, command):
        lines = [
            "#!/bin/bash",
            f"#SBATCH --job-name=hybridge-{name}",
            f"#SBATCH --ntasks={ntasks}",
            "#SBATCH --cpus-per-task=1",
            f"#SBATCH --output={logs}/%x-%A_%a.out",
            *base,
            *extra,
            "# hybridge-host runs under mpirun inside the allocation; one thread per rank.",
            "set -euo pipefail",
            "export OMP_NUM_THREADS=1",
            command,
            "",
        ]
        return "\n".join(lines)

    ref_ranks = spec["reference"]["ranks"]
    write_text(d / "reference.sbatch", job("reference", ref_ranks, [], f"{cmd} --reference-only"))
    write_text(
        d / "members.sbatch",
        job(
            "members",
            spec["ranks_per_member"],
            [f"#SBATCH --array=0-{n - 1}"],
            f'{cmd} --member "$SLURM_ARRAY_TASK_ID"',
        ),
    )
    write_text(d / "summary.sbatch", job("summary", 1, [], f"{cmd} --summarize"))
    submit = "\n".join(
        [
            "#!/bin/bash",
            "# Submit the ensemble: reference, then the member array, then the summary.",
            "set -euo pipefail",
            f"cd {shlex.quote(str(d.resolve()))}",
            f"mkdir -p {logs}",
            "ref=$(sbatch --parsable reference.sbatch)",
            "arr=$(sbatch --parsable --dependency=afterok:$ref members.sbatch)",
            "sbatch --dependency=afterany:$arr summary.sbatch",
            "",
        ]
    )
    write_text(d / "submit.sh", submit)
    os.chmod(d / "submit.sh", 0o755)
    return d / "submit.sh"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="YAML ensemble spec (see `pydoc hybridge.ensemble`)")
    p.add_argument("-o", "--out", help="output folder (default: the spec's 'out', else ensemble_out)")
    p.add_argument(
        "-j", "--jobs", type=int, help="members run at the same time (default: cores // ranks_per_member)"
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument("--slurm", action="store_true", help="write Slurm job scripts, run nothing")
    what.add_argument("--member", type=int, metavar="I", help="run member I only (a Slurm array task)")
    what.add_argument("--reference-only", action="store_true", help="make the reference run only")
    what.add_argument("--summarize", action="store_true", help="only summarise finished members")


def run(args) -> int:
    spec_path = Path(args.spec)
    spec = load_spec(spec_path)
    out = Path(args.out or spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    if args.slurm:
        submit = write_slurm(spec_path, spec, out)
        print(
            f"wrote Slurm scripts for {len(members(spec))} members to {submit.parent}; submit with: "
            f"bash {submit}"
        )
        return 0
    if args.member is not None:
        r = run_member(spec, out, args.member)
        print(f"member {r['name']}: {r['steps_survived']}/{r['steps_requested']} steps")
        return 0
    if args.reference_only:
        ensure_reference(spec, out)
        print(f"reference run ready in {out / 'reference'}")
        return 0
    if not args.summarize:
        if args.jobs is not None and args.jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
        jobs = args.jobs or max(1, (os.cpu_count() or 1) // spec["ranks_per_member"])
        ensure_reference(spec, out)
        n = len(members(spec))
        print(f"running {n} members, {min(jobs, n)} at a time", flush=True)
        failed = run_local(spec_path, spec, out, jobs)
        if failed:
            print(f"{len(failed)} member(s) failed: {failed}", file=sys.stderr)
    report = summarize(spec, out)
    print(f"summary: {report}, survival curve: {out / 'survival.png'}")
    return 0
