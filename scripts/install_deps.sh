#!/usr/bin/env bash
# Installs what hybridge needs on Debian 12: system packages (as root, or prints the
# command to run) and the Python virtual environment .venv with the pinned torch.
# Idempotent: a second run only checks. Used by the Makefile, CI and the Dockerfiles.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${HYBRIDGE_VENV:-$here/.venv}
python=${PYTHON:-python3}
torch_version=2.13.0
# The torch requirement pip is given. The CPU Docker image asks for the CPU build explicitly
# (torch==2.13.0+cpu, from PyTorch's CPU wheel index passed as PIP_EXTRA_INDEX_URL).
torch_spec=${HYBRIDGE_TORCH_SPEC:-torch==$torch_version}

debian_packages=(gfortran g++ cmake make pkg-config openmpi-bin libopenmpi-dev
                 libnetcdf-dev libnetcdff-dev netcdf-bin nlohmann-json3-dev libssl-dev
                 doxygen)

missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then
    echo "install_deps: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "install_deps: missing Debian packages. Run as root:" >&2
    echo "  sudo sh -c '$cmd'" >&2
    exit 1
  fi
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "install_deps: creating $venv"
  "$python" -m venv "$venv"
fi
stamp="$venv/.hybridge-deps"
req="$here/scripts/requirements.txt"
if [ ! -f "$stamp" ] || ! cmp -s "$req" "$stamp"; then
  # torch first and pinned: anything else would pull the CUDA wheels.
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "$torch_spec"
  "$venv/bin/pip" install -q -r "$req"
  cp "$req" "$stamp"
fi
"$venv/bin/python" -c "import torch; assert torch.__version__.startswith('$torch_version'), torch.__version__"
echo "install_deps: ok (torch $torch_version in $venv)"
