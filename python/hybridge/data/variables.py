"""Variable sets: which ClimSim fields form the input vector x and the target vector y.

A variable set is an ordered list of ``(name, size)`` for the inputs and for the outputs;
``size`` is ``nlev`` for a profile (60 in ClimSim; any number in other data), 1 for a
surface/column scalar. The order is the
layout of x and y (profiles first in v1/v2, index 0 = model top). Targets named
``ptend_X`` are tendencies ``(mlo.state_X - mli.state_X) / dt``; every other target is read
from the ``.mlo`` file as is (``cam_out_*``).
"""

from __future__ import annotations

import dataclasses
import os
import runpy

import yaml

NLEV = 60

#: Physical units of the ClimSim fields (E3SM-MMF conventions).
UNITS = {
    "state_t": "K",
    "state_q0001": "kg/kg",
    "state_q0002": "kg/kg",
    "state_q0003": "kg/kg",
    "state_u": "m/s",
    "state_v": "m/s",
    "state_ps": "Pa",
    "pbuf_ozone": "mol/mol",
    "pbuf_CH4": "mol/mol",
    "pbuf_N2O": "mol/mol",
    "pbuf_SOLIN": "W/m2",
    "pbuf_LHFLX": "W/m2",
    "pbuf_SHFLX": "W/m2",
    "pbuf_TAUX": "N/m2",
    "pbuf_TAUY": "N/m2",
    "pbuf_COSZRS": "1",
    "cam_in_ALDIF": "1",
    "cam_in_ALDIR": "1",
    "cam_in_ASDIF": "1",
    "cam_in_ASDIR": "1",
    "cam_in_LWUP": "W/m2",
    "cam_in_ICEFRAC": "1",
    "cam_in_LANDFRAC": "1",
    "cam_in_OCNFRAC": "1",
    "cam_in_SNOWHICE": "m",
    "cam_in_SNOWHLAND": "m",
    "ptend_t": "K/s",
    "ptend_q0001": "kg/kg/s",
    "ptend_q0002": "kg/kg/s",
    "ptend_q0003": "kg/kg/s",
    "ptend_u": "m/s2",
    "ptend_v": "m/s2",
    "cam_out_NETSW": "W/m2",
    "cam_out_FLWDS": "W/m2",
    "cam_out_PRECSC": "m/s",
    "cam_out_PRECC": "m/s",
    "cam_out_SOLS": "W/m2",
    "cam_out_SOLL": "W/m2",
    "cam_out_SOLSD": "W/m2",
    "cam_out_SOLLD": "W/m2",
}

CAM_OUT = [
    "cam_out_NETSW",
    "cam_out_FLWDS",
    "cam_out_PRECSC",
    "cam_out_PRECC",
    "cam_out_SOLS",
    "cam_out_SOLL",
    "cam_out_SOLSD",
    "cam_out_SOLLD",
]


class VariableSetError(ValueError):
    """A variable-set spec is malformed."""


@dataclasses.dataclass(frozen=True)
class VariableSet:
    """Ordered ``(name, size)`` entries of the input vector x and the target vector y."""

    name: str
    inputs: tuple[tuple[str, int], ...]
    outputs: tuple[tuple[str, int], ...]

    @property
    def n_in(self) -> int:
        return sum(s for _, s in self.inputs)

    @property
    def n_out(self) -> int:
        return sum(s for _, s in self.outputs)

    @property
    def nlev(self) -> int | None:
        """Levels of the profiles (entries of size > 1); None when every entry is a scalar."""
        sizes = {s for _, s in self.inputs + self.outputs if s > 1}
        return max(sizes) if sizes else None

    def with_levels(self, nlev: int) -> VariableSet:
        """The same variables with every profile on ``nlev`` levels (v1 on an 8-level grid)."""
        if nlev < 2:
            raise VariableSetError(f"{self.name}: a profile needs at least 2 levels, got {nlev}")

        def resize(entries):
            return tuple((n, nlev if s > 1 else 1) for n, s in entries)

        return VariableSet(self.name, resize(self.inputs), resize(self.outputs))

    def units(self, name: str) -> str:
        """Physical units of a ClimSim variable ("" for a name ClimSim does not have)."""
        return UNITS.get(name, "")

    def offsets(self, which: str) -> dict[str, tuple[int, int]]:
        """``{name: (offset, size)}`` in the input (``"in"``) or output (``"out"``) vector."""
        out, off = {}, 0
        for name, size in self.inputs if which == "in" else self.outputs:
            out[name] = (off, size)
            off += size
        return out

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "inputs": [[n, s] for n, s in self.inputs],
            "outputs": [[n, s] for n, s in self.outputs],
        }

    @classmethod
    def from_dict(cls, d: dict, where: str = "variable set") -> VariableSet:
        """Read a spec: ``name``, ``inputs``, ``outputs`` and optionally ``nlev`` (the size of a
        profile named without a size, default 60); see docs/toolkit_data.md."""
        unknown = set(d) - {"name", "inputs", "outputs", "nlev"}
        if unknown:
            raise VariableSetError(
                f"{where}: unknown key(s) {sorted(unknown)}; expected name, inputs, outputs, nlev"
            )
        nlev = d.get("nlev", NLEV)
        if isinstance(nlev, bool) or not isinstance(nlev, int) or nlev < 2:
            raise VariableSetError(f"{where}: nlev must be an integer >= 2, got {nlev!r}")
        try:
            ins = tuple(_entry(e, where, nlev) for e in _list(d["inputs"], "inputs", where))
            outs = tuple(_entry(e, where, nlev) for e in _list(d["outputs"], "outputs", where))
        except KeyError as e:
            raise VariableSetError(f"{where}: missing key {e}") from None
        if not ins or not outs:
            raise VariableSetError(f"{where}: inputs and outputs must not be empty")
        for role, entries in (("inputs", ins), ("outputs", outs)):
            names = [n for n, _ in entries]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise VariableSetError(f"{where}: variable {twice[0]!r} is listed twice in the {role}")
        for name, _ in outs:
            if not (name.startswith(("ptend_", "cam_out_"))):
                raise VariableSetError(
                    f"{where}: output '{name}' must be a ptend_* tendency or a cam_out_* field"
                )
        return cls(str(d.get("name", "custom")), ins, outs)


def _list(v, key: str, where: str) -> list:
    if not isinstance(v, (list, tuple)):
        raise VariableSetError(f"{where}: {key} must be a list of variables, got {v!r}")
    return list(v)


def _entry(e, where: str, nlev: int = NLEV) -> tuple[str, int]:
    """A spec entry: ``state_t`` (a ClimSim profile: ``nlev`` levels; any other name: a
    scalar), ``[state_ps, 1]`` or ``{name: state_t, size: 8}``."""
    if isinstance(e, str):
        name, size = e, nlev if _is_profile_name(e) else 1
    elif isinstance(e, dict) and set(e) <= {"name", "size"} and "name" in e:
        name, size = e["name"], e.get("size", 1)
    elif isinstance(e, (list, tuple)) and len(e) == 2:
        name, size = e
    else:
        raise VariableSetError(f"{where}: cannot read variable entry {e!r}")
    if not isinstance(name, str) or not name.isidentifier():
        raise VariableSetError(f"{where}: variable name {name!r} is not a netCDF variable name")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise VariableSetError(f"{where}: variable {name!r} has size {size!r}; expected an integer >= 1")
    return (name, size)


_PROFILES = {
    "state_t",
    "state_q0001",
    "state_q0002",
    "state_q0003",
    "state_u",
    "state_v",
    "pbuf_ozone",
    "pbuf_CH4",
    "pbuf_N2O",
    "ptend_t",
    "ptend_q0001",
    "ptend_q0002",
    "ptend_q0003",
    "ptend_u",
    "ptend_v",
}


def _is_profile_name(name: str) -> bool:
    return name in _PROFILES


def _profiles(names):
    return [(n, NLEV) for n in names]


def _scalars(names):
    return [(n, 1) for n in names]


V1 = VariableSet(
    "v1",
    tuple(
        _profiles(["state_t", "state_q0001"])
        + _scalars(["state_ps", "pbuf_SOLIN", "pbuf_LHFLX", "pbuf_SHFLX"])
    ),
    tuple(_profiles(["ptend_t", "ptend_q0001"]) + _scalars(CAM_OUT)),
)

V2 = VariableSet(
    "v2",
    tuple(
        _profiles(
            [
                "state_t",
                "state_q0001",
                "state_q0002",
                "state_q0003",
                "state_u",
                "state_v",
                "pbuf_ozone",
                "pbuf_CH4",
                "pbuf_N2O",
            ]
        )
        + _scalars(
            [
                "state_ps",
                "pbuf_SOLIN",
                "pbuf_LHFLX",
                "pbuf_SHFLX",
                "pbuf_TAUX",
                "pbuf_TAUY",
                "pbuf_COSZRS",
                "cam_in_ALDIF",
                "cam_in_ALDIR",
                "cam_in_ASDIF",
                "cam_in_ASDIR",
                "cam_in_LWUP",
                "cam_in_ICEFRAC",
                "cam_in_LANDFRAC",
                "cam_in_OCNFRAC",
                "cam_in_SNOWHICE",
                "cam_in_SNOWHLAND",
            ]
        )
    ),
    tuple(
        _profiles(["ptend_t", "ptend_q0001", "ptend_q0002", "ptend_q0003", "ptend_u", "ptend_v"])
        + _scalars(CAM_OUT)
    ),
)

BUILTIN = {"v1": V1, "v2": V2}


def get_variable_set(spec) -> VariableSet:
    """``"v1"``, ``"v2"``, a dict, a ``.yaml`` file or a ``.py`` file defining ``VARIABLES``."""
    if isinstance(spec, VariableSet):
        return spec
    if isinstance(spec, dict):
        return VariableSet.from_dict(spec)
    spec = str(spec)
    if spec in BUILTIN:
        return BUILTIN[spec]
    if not os.path.exists(spec):
        raise VariableSetError(
            f"variable set {spec!r} is neither one of {sorted(BUILTIN)} nor an existing file"
        )
    if spec.endswith(".py"):
        ns = runpy.run_path(spec)
        if "VARIABLES" not in ns:
            raise VariableSetError(f"{spec}: defines no VARIABLES dict")
        return VariableSet.from_dict(ns["VARIABLES"], where=spec)
    try:
        with open(spec) as f:
            d = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise VariableSetError(f"{spec}: not valid YAML ({' '.join(str(e).split())})") from None
    if not isinstance(d, dict):
        raise VariableSetError(f"{spec}: expected a mapping with inputs and outputs")
    return VariableSet.from_dict(d, where=spec)
