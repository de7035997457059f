"""``python -m hybridge ...``: the ``hybridge`` command, plus ``--cmake-dir`` (as pybind11 has it)
for CMake builds: ``cmake -Dhybridge_DIR=$(python -m hybridge --cmake-dir) ...``."""

import sys

from hybridge.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv == ["--cmake-dir"]:
        argv = ["config", "--cmake-dir"]
    sys.exit(main(argv))
