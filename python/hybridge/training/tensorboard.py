"""TensorBoard scalars of a run, when the ``tensorboard`` package is installed.

``tensorboard: auto`` (the default) writes ``<run>/tensorboard/`` when the package can be
imported and says once that it is not installed otherwise; ``true`` makes a missing package
an error before training starts; ``false`` never writes.
"""

from __future__ import annotations

from ..config import ConfigError


def available() -> bool:
    """``torch.utils.tensorboard`` can be imported (it needs the ``tensorboard`` package)."""
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def check(setting) -> None:
    """Refuse ``tensorboard: true`` without the package, before any work."""
    if setting is True and not available():
        raise ConfigError(
            "tensorboard: true, but the tensorboard package is not installed (pip install tensorboard)"
        )


def open_writer(setting, folder, say):
    """A ``SummaryWriter`` on ``folder``, or None (``setting`` false, or auto and not installed)."""
    if setting is False:
        return None
    check(setting)
    if not available():
        say("tensorboard: not installed; the scalars are in history.csv only")
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(folder))
