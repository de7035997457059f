"""What kind of model file a path holds, told from its content, and the model loaded in Python.

A hybridge model file is a TorchScript archive (``torch.jit.save``) or an AOTInductor
package (``.pt2``: ``torch.export`` + ``torch._inductor.aoti_compile_and_package``). Both
are zip archives; a package says so in its ``archive_format`` record (``pt2``). The engine
tells them apart the same way (``open_model`` in csrc/engine/backend.hpp), never by the
file's name.

:func:`load_model` gives the callable the Python references run: ``torch.jit.load`` for
TorchScript, ``torch._inductor.aoti_load_package`` for a package, both on the CPU.
"""

from __future__ import annotations

import os
import warnings

import torch

from .manifest import ManifestError

TORCHSCRIPT = "torchscript"
PT2 = "pt2"

# The record of a PT2 archive that names its format (torch/csrc/export/pt2_archive_constants.h).
_ARCHIVE_FORMAT_RECORD = "archive_format"


class ModelFileError(ManifestError):
    """A path that holds no model archive hybridge can read."""


def open_archive(path: str | os.PathLike):
    """``torch._C.PyTorchFileReader`` over a model file, or :class:`ModelFileError` naming the file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        return torch._C.PyTorchFileReader(os.fspath(path))
    except RuntimeError as e:
        first = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
        raise ModelFileError(
            f"{path}: not a model archive (truncated, or neither TorchScript nor a .pt2 package): {first}"
        ) from None


def archive_format(reader) -> str:
    """:data:`PT2` when the open archive is an AOTInductor package, :data:`TORCHSCRIPT` otherwise."""
    if reader.has_record(_ARCHIVE_FORMAT_RECORD) and reader.get_record(_ARCHIVE_FORMAT_RECORD) == b"pt2":
        return PT2
    return TORCHSCRIPT


def model_format(path: str | os.PathLike) -> str:
    """:data:`TORCHSCRIPT` or :data:`PT2`, from the file's content."""
    return archive_format(open_archive(path))


def load_model(path: str | os.PathLike):
    """The model of ``path`` as a callable on the CPU: a TorchScript module in eval mode, or the
    package's compiled model (``aoti_load_package``)."""
    path = os.fspath(path)
    if model_format(path) == PT2:
        return torch._inductor.aoti_load_package(path)
    with warnings.catch_warnings():
        # TorchScript is one of the engine's formats: torch's deprecation notice says nothing here
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        module = torch.jit.load(path, map_location="cpu")
    return module.eval()
