"""Training checkpoints: plain dicts of tensors and numbers, loadable with ``weights_only=True``.

A checkpoint names the model and its options, the variable set, dt and the normalization,
so that export and resume can refuse one that belongs to another model.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

FORMAT = "hybridge-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint is unreadable or belongs to another model/configuration."""


def save_checkpoint(state: dict, path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"format": FORMAT, **state}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a corrupt or foreign file
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a hybridge checkpoint (expected format {FORMAT!r})")
    return ckpt


def load_weights(module: torch.nn.Module, state_dict: dict, path) -> None:
    """Strict load with an error that names the checkpoint and the offending parameters."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    extra = sorted(set(state_dict) - set(own))
    shapes = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state_dict))
        if own[k].shape != state_dict[k].shape
    ]
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}")
        if extra:
            parts.append(f"unexpected {extra[:5]}")
        if shapes:
            parts.append("shape mismatch " + "; ".join(shapes[:5]))
        raise CheckpointError(f"{path}: weights do not fit the model: " + ", ".join(parts))
    module.load_state_dict(state_dict)
