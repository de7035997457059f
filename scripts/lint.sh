#!/usr/bin/env bash
# make lint: every formatter in check mode and every linter, on the whole tree. Configuration
# (and why each ignored rule is ignored): pyproject.toml [tool.ruff], .clang-format,
# .clang-tidy, .cmake-format.yaml, fortitude.toml. `scripts/lint.sh --fix` applies the
# formatters and the linters' safe fixes instead of checking.
# Needs the build folder's compile_commands.json (clang-tidy) and the .venv tools
# (scripts/requirements.txt); `make lint` provides both.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
venv=${HYBRIDGE_VENV:-$PWD/.venv}
build=${HYBRIDGE_BUILD:-$PWD/build}
export PATH="$venv/bin:$PATH"
fix=0
[ "${1:-}" = "--fix" ] && fix=1

failed=()
step() {  # step NAME COMMAND...: run, remember a failure, go on with the next tool
  local name=$1
  shift
  echo "lint: $name"
  "$@" || failed+=("$name")
}

mapfile -t cxx < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.c')
mapfile -t cmake_files < <(git ls-files 'CMakeLists.txt' '**/CMakeLists.txt' '*.cmake' '*.cmake.in')
mapfile -t shells < <(git ls-files '*.sh' .ci/run)
mapfile -t dockerfiles < <(git ls-files 'docker/Dockerfile*' | grep -v dockerignore)
fortran_dirs=(fortran examples tests bench)
python_dirs=(python tests bench examples scripts)
# The Fortran API as the compiler sees it: the fypp template expanded (no line markers).
api_f90=$build/lint/hybridge.f90
mkdir -p "$build/lint"
python -m fypp fortran/hybridge.fypp "$api_f90" || failed+=("fypp")

if [ $fix = 1 ]; then
  step "ruff format" ruff format "${python_dirs[@]}"
  step "ruff check --fix" ruff check --fix "${python_dirs[@]}"
  step "clang-format" clang-format -i "${cxx[@]}"
  step "cmake-format" cmake-format -i "${cmake_files[@]}"
  step "fortitude --fix" fortitude check --fix "${fortran_dirs[@]}"
else
  step "ruff format --check" ruff format --check "${python_dirs[@]}"
  step "ruff check" ruff check "${python_dirs[@]}"
  step "clang-format --dry-run" clang-format --dry-run -Werror "${cxx[@]}"
  step "cmake-format --check" cmake-format --check "${cmake_files[@]}"
  step "cmake-lint" cmake-lint --suppress-decorations "${cmake_files[@]}"
  step "fortitude" fortitude check "${fortran_dirs[@]}" "$api_f90"
  step "shellcheck" shellcheck "${shells[@]}"
  step "hadolint" hadolint --failure-threshold info "${dockerfiles[@]}"
  if [ -f "$build/compile_commands.json" ]; then
    step "clang-tidy" run-clang-tidy.py -quiet -p "$build" -j "$(nproc)" -clang-tidy-binary "$venv/bin/clang-tidy" \
      "$PWD/csrc/"
  else
    echo "lint: clang-tidy needs $build/compile_commands.json (make build makes it)" >&2
    failed+=("clang-tidy")
  fi
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "lint: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "lint: all clean"
