"""hybridge: run PyTorch emulators of sub-grid physics inside Fortran climate models."""

__version__ = "0.1.0"
