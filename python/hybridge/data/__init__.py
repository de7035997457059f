"""ClimSim-format data: files and pairing, variable sets, normalization, streaming pipeline."""

from .climsim import Grid, climsim_dir, load_grid
from .dataset import ClimSimStream, PairCache, make_loader
from .files import (
    DT_CLIMSIM,
    DataError,
    FilePair,
    find_pairs,
    read_pair,
    read_surface_pressure,
    split_by_time,
)
from .normalization import Normalization, make_normalization
from .variables import BUILTIN, UNITS, V1, V2, VariableSet, VariableSetError, get_variable_set

__all__ = [
    "BUILTIN",
    "DT_CLIMSIM",
    "UNITS",
    "V1",
    "V2",
    "ClimSimStream",
    "DataError",
    "FilePair",
    "Grid",
    "Normalization",
    "PairCache",
    "VariableSet",
    "VariableSetError",
    "climsim_dir",
    "find_pairs",
    "get_variable_set",
    "load_grid",
    "make_loader",
    "make_normalization",
    "read_pair",
    "read_surface_pressure",
    "split_by_time",
]
