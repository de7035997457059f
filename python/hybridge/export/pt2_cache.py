"""Compiled AOTInductor packages kept between runs, so that each model is compiled once.

AOTInductor compiles every model with the C++ compiler (tens of seconds for a small MLP,
minutes on a loaded machine). With the environment variable ``HYBRIDGE_PT2_CACHE`` naming
a folder (``make test`` and ``make bench`` set ``build/pt2_cache``), the package compiled
for an exported program is kept there under a key, and a later export of the same program
copies it instead of compiling again. Without the variable nothing is cached.

The key is a SHA-256 over everything the compiled code depends on: the torch version, the
CPU the compiler targets (its instruction-set flags: inductor compiles with
``-march=native``), the inductor settings (the package metadata among them), and the
exported program itself: its graph code, signature, range constraints (the dynamic column
dimension), parameters, buffers and constants (name, dtype, shape and bytes) and the
example inputs' shapes and dtypes. A cached package is a package without the hybridge
manifest; the writer adds the manifest to a copy (:mod:`hybridge.export.pt2`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

ENV = "HYBRIDGE_PT2_CACHE"


def cache_folder() -> Path | None:
    """The folder named by ``HYBRIDGE_PT2_CACHE`` (created when missing), or None."""
    folder = os.environ.get(ENV, "").strip()
    if not folder:
        return None
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _update_tensor(h, name: str, t: torch.Tensor) -> None:
    t = t.detach().cpu().contiguous()
    h.update(f"{name}\0{t.dtype}\0{list(t.shape)}\0".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def program_key(ep: torch.export.ExportedProgram, configs: dict, cpu_flags: str) -> str:
    """The cache key of compiling ``ep`` with inductor ``configs`` for a CPU with ``cpu_flags``."""
    h = hashlib.sha256()
    h.update(f"torch {torch.__version__}\0cpu {cpu_flags}\0".encode())
    h.update(json.dumps(configs, sort_keys=True, default=str).encode() + b"\0")
    h.update(ep.graph_module.code.encode() + b"\0")
    h.update(str(ep.graph_signature).encode() + b"\0")
    h.update(str(sorted((str(k), str(v)) for k, v in ep.range_constraints.items())).encode() + b"\0")
    for name, t in sorted(ep.state_dict.items()):
        _update_tensor(h, "param:" + name, t)
    for name, t in sorted(ep.constants.items()):
        if isinstance(t, torch.Tensor):
            _update_tensor(h, "const:" + name, t)
    args, kwargs = ep.example_inputs or ((), {})
    for i, t in enumerate(torch.utils._pytree.tree_leaves((args, kwargs))):
        if isinstance(t, torch.Tensor):
            h.update(f"example {i}\0{t.dtype}\0{list(t.shape)}\0".encode())
    return h.hexdigest()


def compile_cached(key: str, package: Path, compile_into: Callable[[Path], None]) -> bool:
    """Write the package of ``key`` at ``package``: a copy of the cached one, or
    ``compile_into(package)`` followed by storing it. Returns True on a cache hit."""
    folder = cache_folder()
    if folder is None:
        compile_into(package)
        return False
    cached = folder / f"{key}.pt2"
    if cached.is_file():
        shutil.copyfile(cached, package)
        return True
    compile_into(package)
    # another process may store the same key at the same time: each writes its own file first
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".pt2.tmp")
    os.close(fd)
    try:
        shutil.copyfile(package, tmp)
        os.replace(tmp, cached)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return False
