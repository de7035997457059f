#!/usr/bin/env bash
# `make demo`: the ClimSim-Online loop on this machine with hybridge-host.
#   reference run (conventional physics, 2 ranks) -> hybridge train -> hybridge export
#   -> hybrid run (physics_mode = ml) and partial-coupling run from the reference's restart
#   -> online evaluation report in $HYBRIDGE_DEMO_OUT (default demo_out/report.md).
# Sizes (environment; the defaults take about 8 minutes on 2 cores, see README):
#   HYBRIDGE_DEMO_OUT=demo_out  HYBRIDGE_DEMO_RANKS=2  HYBRIDGE_DEMO_TRAIN_DAYS=365
#   HYBRIDGE_DEMO_TRAIN_INTERVAL=73  HYBRIDGE_DEMO_HYBRID_DAYS=5  HYBRIDGE_DEMO_EPOCHS=15
#   HYBRIDGE_DEMO_HIDDEN=512,512,512,512  HYBRIDGE_DEMO_SEED=0
#   HYBRIDGE_DEMO_ARGS="..." (any other `hybridge demo` flags, e.g. --ml-guard fallback)
# Training data: the reference's training leg runs HYBRIDGE_DEMO_TRAIN_DAYS days (a year: the
# whole seasonal cycle) and writes a pair every HYBRIDGE_DEMO_TRAIN_INTERVAL steps (73: one a
# day, 20 minutes later each day, so every hour of the day is sampled). The year of
# conventional physics is most of the demo's time; HYBRIDGE_DEMO_TRAIN_DAYS=5
# HYBRIDGE_DEMO_TRAIN_INTERVAL=1 is the older, February-only demo.
# The Makefile exports HYBRIDGE_BUILD and HYBRIDGE_PREFIX; hybridge-host is taken from the
# install prefix, else from the build folder.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
python=${HYBRIDGE_PYTHON:-$here/.venv/bin/python}
export HYBRIDGE_BUILD=${HYBRIDGE_BUILD:-$here/build}
export HYBRIDGE_PREFIX=${HYBRIDGE_PREFIX:-$here/install}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

if [ ! -x "$python" ]; then
  echo "demo: no Python at $python; run 'make deps' (or set HYBRIDGE_PYTHON)" >&2
  exit 1
fi

# shellcheck disable=SC2086  # HYBRIDGE_DEMO_ARGS is a list of flags
exec "$python" -m hybridge.cli demo \
  --out "${HYBRIDGE_DEMO_OUT:-demo_out}" \
  --ranks "${HYBRIDGE_DEMO_RANKS:-2}" \
  --train-days "${HYBRIDGE_DEMO_TRAIN_DAYS:-365}" \
  --train-interval "${HYBRIDGE_DEMO_TRAIN_INTERVAL:-73}" \
  --hybrid-days "${HYBRIDGE_DEMO_HYBRID_DAYS:-5}" \
  --epochs "${HYBRIDGE_DEMO_EPOCHS:-15}" \
  --hidden "${HYBRIDGE_DEMO_HIDDEN:-512,512,512,512}" \
  --seed "${HYBRIDGE_DEMO_SEED:-0}" \
  ${HYBRIDGE_DEMO_ARGS:-}
