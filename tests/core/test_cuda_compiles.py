"""The engine's CUDA-only code (csrc/engine/cuda_graph.cpp with HYBRIDGE_WITH_CUDA, built
when libtorch has CUDA) compiles, checked on a machine without GPU or CUDA libtorch: the
CPU wheel ships libtorch's CUDA headers, and the CUDA headers come from the pip packages
nvidia-cuda-runtime-cu12 and nvidia-cuda-nvcc-cu12 (scripts/requirements.txt). Syntax and
types only; linking and running need a CUDA libtorch and a GPU (test_node_async.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def cuda_include_dirs() -> list[str]:
    dirs = []
    for package in ("nvidia.cuda_runtime", "nvidia.cuda_nvcc"):
        try:
            module = __import__(package, fromlist=["_"])
        except ImportError:
            pytest.skip(f"{package} (CUDA headers) not installed; see scripts/requirements.txt")
        dirs.append(str(Path(next(iter(module.__path__))) / "include"))
    return dirs


def test_cuda_graph_code_compiles():
    from torch.utils.cpp_extension import include_paths

    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        pytest.skip("no C++ compiler")
    ours = [str(REPO / "csrc/include"), str(REPO / "csrc/engine")]
    theirs = include_paths() + cuda_include_dirs()  # as CMake does: their warnings are not ours
    cmd = [
        compiler,
        "-fsyntax-only",
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-DHYBRIDGE_WITH_CUDA",
        # the CPU wheel lacks the generated c10/cuda/impl/cuda_cmake_macros.h
        "-DC10_USING_CUSTOM_GENERATED_MACROS",
        *[f"-I{d}" for d in ours],
        *[f"-isystem{d}" for d in theirs],
        str(REPO / "csrc/engine/cuda_graph.cpp"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "warning" not in done.stderr, done.stderr[-4000:]
