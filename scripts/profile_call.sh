#!/usr/bin/env bash
# The fixed cost of one hyb_forward, in instructions: bench/profile_forward under callgrind,
# NCALLS calls of raw libtorch and of hyb_forward on real32 and real64 arrays (v1 MLP, one
# thread, 1 column by default), then the instructions per call by stage
# (bench/callgrind_stages.py). Instruction counts do not change with the machine's load, so
# this is the measurement to compare builds on a busy machine. About 2 minutes.
# Environment: HYBRIDGE_BUILD (build folder, default <repo>/build), PROFILE_NCOL (default 1),
# PROFILE_NCALLS (default 200). Writes bench_out/profile/ (profiles, profile.md).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${HYBRIDGE_BUILD:-$repo/build}
python=${PYTHON:-$repo/.venv/bin/python}
ncol=${PROFILE_NCOL:-1}
ncalls=${PROFILE_NCALLS:-200}
driver=$build/bin/profile_forward
if [ ! -x "$driver" ]; then
  echo "profile_call: $driver not found; build first (make build)" >&2
  exit 1
fi
command -v valgrind > /dev/null || { echo "profile_call: valgrind is not installed" >&2; exit 1; }
export PYTHONPATH="$repo/python${PYTHONPATH:+:$PYTHONPATH}"

work=$repo/bench_out/profile
mkdir -p "$work"
"$python" "$repo/bench/prepare.py" "$work" "$ncol:1:1"
read -r ninput noutput < "$work/plan.txt"
for run in "real32 libtorch" "real32 hybridge" "real64 hybridge"; do
  read -r kind path <<< "$run"
  valgrind --tool=callgrind --collect-atstart=no --toggle-collect=profile_timed_calls \
    --callgrind-out-file="$work/$path.$kind.callgrind" \
    "$driver" "$work/mlp_v1.pt" "$work/x.f64" "$ninput" "$noutput" "$ncol" "$kind" "$path" "$ncalls" \
    2> "$work/$path.$kind.log"
done
{
  echo "Instructions per call, $ncol column(s), $ncalls calls (scripts/profile_call.sh):"
  echo
  "$python" "$repo/bench/callgrind_stages.py" "$ncalls" "$work/libtorch.real32.callgrind" \
    "$work/hybridge.real32.callgrind" "$work/hybridge.real64.callgrind"
} | tee "$work/profile.md"
