#!/usr/bin/env bash
# make bench: first, time the ClimSim v1 MLP from Fortran through hybridge (real64 and real32
# arrays, each call paired with raw libtorch in the same process), from C++ straight on
# libtorch, and from Python, in one run, and print one table with ratios to raw libtorch
# (also written to bench_out/bench_core.md).
#
# Each round runs the three programs in the same order for every thread count, so a slow
# spell of the machine is spread over all of them; report.py takes medians over all
# rounds. About 1.5 minutes on 2 idle cores. Environment: HYBRIDGE_BUILD (build folder,
# default <repo>/build), HYBRIDGE_BENCH_THREADS (intra-op thread counts, default "1 2"),
# HYBRIDGE_BENCH_ROUNDS (default 4), HYBRIDGE_BENCH_PLAN (ncol:warmup:reps per batch size
# and round, default below), HYBRIDGE_BENCH_OPTIONS (more engine options for the Fortran
# path, e.g. heap=system to time it under glibc's default heap policy).
# The survival benchmark at the end (bench/survival.py, issue 15): HYBRIDGE_BENCH_SURVIVAL=0
# skips it; HYBRIDGE_BENCH_SURVIVAL_DAYS (default 365), HYBRIDGE_BENCH_SURVIVAL_RANKS (2),
# HYBRIDGE_BENCH_DEMO (the demo output it starts from, default demo_out; made if missing).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${HYBRIDGE_BUILD:-$repo/build}
python=${PYTHON:-$repo/.venv/bin/python}
threads_list=${HYBRIDGE_BENCH_THREADS:-1 2}
rounds=${HYBRIDGE_BENCH_ROUNDS:-4}
# reps chosen so that each batch size takes about 0.1-1 s per round on one thread.
read -ra plan <<<"${HYBRIDGE_BENCH_PLAN:-1:200:1000 16:50:300 384:10:60 4096:2:8}"
export PYTHONPATH="$repo/python${PYTHONPATH:+:$PYTHONPATH}"

out=$repo/bench_out
work=$out/core
bench_libtorch=$build/bin/bench_libtorch
bench_fortran=$build/bin/bench_fortran
if [ ! -x "$bench_libtorch" ]; then
  echo "bench: $bench_libtorch not found; build first (make bench does)" >&2
  exit 1
fi
if [ ! -x "$bench_fortran" ]; then
  echo "bench: $bench_fortran not found (Fortran module not in this build); timing without it" >&2
  bench_fortran=
fi

rm -rf "$work"
mkdir -p "$work/raw" "$work/outputs"
"$python" "$repo/bench/prepare.py" "$work" "${plan[@]}"
files=("$work/mlp_v1.pt" "$work/x.f64" "$work/plan.txt")

echo "bench: ${rounds} rounds, threads: ${threads_list}" >&2
for round in $(seq "$rounds"); do
  for threads in $threads_list; do
    tag=t${threads}_r${round}
    if [ -n "$bench_fortran" ]; then
      "$bench_fortran" "${files[@]}" "$threads" "$work/raw/hybridge_fortran_$tag.csv" "$work/outputs"
    fi
    "$bench_libtorch" "${files[@]}" "$threads" "$work/raw/libtorch_$tag.csv" "$work/outputs"
    "$python" "$repo/bench/bench_python.py" "${files[@]}" "$threads" \
      "$work/raw/python_$tag.csv" "$work/outputs"
  done
  echo "bench: round $round of $rounds done" >&2
done

"$python" "$repo/bench/report.py" "$work" --output "$out/bench_core.md" --command "make bench"

# Issue-18 table: the reproducible mode's cost, chunk=N against chunk=0 (docs/options.md).
"$python" "$repo/bench/bench_chunk.py" --out "$out/bench_chunk.md"

# Issue-7 tables: rank vs node batching (throughput, memory), FLOP rate against a matmul
# peak measured in the same run, RSS over 100,000 calls; the host model's time per step;
# the training data pipeline's throughput.
"$python" "$repo/bench/bench_batching.py" --out "$out/bench_batching.md"
HYBRIDGE_BUILD=$build "$python" "$repo/bench/bench_host.py" "$out/host"
"$python" -m hybridge.data.bench | tee "$out/bench_data.md"

# Issue-14 tables: the spectral dynamical core's Held-Suarez climatology against the paper
# (bench_out/held_suarez/held_suarez.{md,png}) and a hybrid year on it (bench_out/hybrid_year/).
if [ "${HYBRIDGE_BENCH_DYNAMICS:-1}" != 0 ]; then
  hs_days=${HYBRIDGE_BENCH_HS_DAYS:-1200}
  "$python" "$repo/bench/held_suarez.py" "$out/held_suarez" --days "$hs_days" \
    --spinup "$((hs_days < 400 ? hs_days / 2 : 200))" --truncation T63 --nlev 20 --ranks "$(nproc)"
  "$python" "$repo/bench/hybrid_year.py" "$out/hybrid_year" --days "${HYBRIDGE_BENCH_HYBRID_DAYS:-365}" \
    --ranks "$(nproc)"
fi

# Issue 13: the same models as TorchScript and as .pt2 packages (v1 MLP, U-Net), time per
# call through the C ABI at 1/16/384/4096 columns on 1 and 2 threads, called alternately.
HYBRIDGE_BUILD=$build "$python" "$repo/bench/bench_formats.py" --out "$out/bench_formats.md"

# Issue 15: the survival benchmark. The demo's emulator (year-round training data; `make demo`
# made first when $HYBRIDGE_BENCH_DEMO has none) for a simulated year in ml mode with and
# without the out-of-distribution guard, against the conventional reference
# (bench_out/survival/{survival.md,survival.png,report.md}).
if [ "${HYBRIDGE_BENCH_SURVIVAL:-1}" != 0 ]; then
  demo=${HYBRIDGE_BENCH_DEMO:-$repo/demo_out}
  if [ ! -f "$demo/emulator/model.pt" ] || [ ! -f "$demo/reference/reference.json" ]; then
    HYBRIDGE_DEMO_OUT=$demo HYBRIDGE_PYTHON=$python bash "$repo/scripts/demo.sh"
  fi
  "$python" "$repo/bench/survival.py" "$out/survival" --demo "$demo" \
    --days "${HYBRIDGE_BENCH_SURVIVAL_DAYS:-365}" --ranks "${HYBRIDGE_BENCH_SURVIVAL_RANKS:-2}"
fi
