"""Shared matplotlib set-up for hybridge's figures: the Agg backend, one save path."""

from __future__ import annotations

from pathlib import Path

from .files import atomic


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path, dpi: int = 110, layout: bool = True) -> Path:
    """Lay out ``fig`` (``tight_layout`` unless ``layout`` is False: the figure has its own
    layout engine), write it atomically as PNG at ``path`` and close it."""
    plt = pyplot()
    if layout:
        fig.tight_layout()
    atomic(Path(path), lambda t: fig.savefig(t, format="png", dpi=dpi))
    plt.close(fig)
    return Path(path)
