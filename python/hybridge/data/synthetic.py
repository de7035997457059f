"""Small ClimSim-format datasets for tests, benchmarks and the demo.

Writes ``YYYY-MM/<case>.mli.YYYY-MM-DD-SSSSS.nc`` and ``.mlo.`` pairs with the variable
names and dims of the real ClimSim files (``ncol`` = 384, ``lev`` = 60, profiles stored
``(lev, ncol)``) on the real grid, with inputs drawn around the real ``input_mean`` /
``input_std``. Inputs share a few smooth vertical modes driven by per-column latent
factors, so profiles look like profiles and latitudes differ.

``targets="nonlinear"``: every target is a fixed nonlinear function of the inputs,
``y' = tanh(x_n W1) W2`` with ``x_n`` the inputs standardized by the ClimSim statistics
(only the v1 inputs enter, so a v1 or a v2 emulator can learn it exactly);
``targets="noise"``: targets are independent noise.
The mlo states are ``mli.state_X + dt * ptend_X`` so that the tendencies read back exactly
as generated (to float32 round-off).
"""

from __future__ import annotations

import os
from pathlib import Path

import netCDF4
import numpy as np

from ..physics import GRAVIT, LATVAP, RHOH2O
from .climsim import input_stat, load_grid
from .files import DT_CLIMSIM
from .variables import CAM_OUT, NLEV, V1, V2

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # E3SM noleap calendar
_STATES = ["state_t", "state_q0001", "state_q0002", "state_q0003", "state_u", "state_v"]
_N_LATENT = 4
_N_HIDDEN = 16
# Typical magnitude of each cam_out field (W/m2 or m/s), targets = base * (1 + 0.5*tanh(y')).
_CAM_BASE = {
    "cam_out_NETSW": 150.0,
    "cam_out_FLWDS": 350.0,
    "cam_out_PRECSC": 5e-9,
    "cam_out_PRECC": 3e-8,
    "cam_out_SOLS": 60.0,
    "cam_out_SOLL": 60.0,
    "cam_out_SOLSD": 30.0,
    "cam_out_SOLLD": 30.0,
}
_FRACTIONS = {
    "cam_in_ALDIF",
    "cam_in_ALDIR",
    "cam_in_ASDIF",
    "cam_in_ASDIR",
    "cam_in_ICEFRAC",
    "cam_in_LANDFRAC",
    "cam_in_OCNFRAC",
    "pbuf_COSZRS",
}
_NONNEG = {
    "state_q0001",
    "state_q0002",
    "state_q0003",
    "pbuf_ozone",
    "pbuf_CH4",
    "pbuf_N2O",
    "pbuf_SOLIN",
    "cam_in_LWUP",
    "cam_in_SNOWHICE",
    "cam_in_SNOWHLAND",
}


def _advance(y, m, d, s, seconds):
    s += int(seconds)
    while s >= 86400:
        s -= 86400
        d += 1
        if d > _DAYS_IN_MONTH[m - 1]:
            d, m = 1, m + 1
            if m > 12:
                m, y = 1, y + 1
    return y, m, d, s


class _Generator:
    def __init__(self, seed: int, ncol: int):
        self.grid = load_grid()
        self.ncol = ncol
        rng = np.random.default_rng(seed)
        self.lat = self.grid.lat[:ncol]
        lev = np.arange(NLEV) / (NLEV - 1)
        modes = np.stack([np.sin(np.pi * (j + 1) * lev) for j in range(_N_LATENT)])
        self.mean = {n: input_stat("mean", n, s) for n, s in V2.inputs}
        self.std = {n: input_stat("std", n, s) for n, s in V2.inputs}
        # loading of latent factor j on each level of a variable: (n_latent, size)
        self.load = {n: rng.normal(size=(_N_LATENT, 1)) * (modes if s > 1 else 1.0) for n, s in V2.inputs}
        # the targets depend on the v1 inputs only, so v1 and v2 emulators can both learn them
        v1_rows = np.concatenate(
            [np.arange(o, o + s) for n, (o, s) in V2.offsets("in").items() if n in dict(V1.inputs)]
        )
        self.w1 = np.zeros((V2.n_in, _N_HIDDEN))
        self.w1[v1_rows] = rng.normal(size=(v1_rows.size, _N_HIDDEN)) / np.sqrt(v1_rows.size / 4)
        self.w2 = rng.normal(size=(_N_HIDDEN, V2.n_out)) / np.sqrt(_N_HIDDEN / 2)

    def inputs(self, rng) -> dict[str, np.ndarray]:
        """(ncol, size) per v2 input variable, around the ClimSim mean/std."""
        latent = rng.normal(size=(self.ncol, _N_LATENT))
        latent[:, 0] += np.cos(np.deg2rad(self.lat)) * 1.5 - 1.0  # warm tropics, cold poles
        out = {}
        for name, size in V2.inputs:
            z = latent @ self.load[name] / np.sqrt(_N_LATENT)
            z = 0.8 * z + 0.3 * rng.normal(size=(self.ncol, size))
            v = self.mean[name] + 0.5 * self.std[name] * z
            if name in _FRACTIONS:
                v = np.clip(v, 0.0, 1.0)
            elif name in _NONNEG:
                v = np.maximum(v, 0.05 * self.mean[name])
            out[name] = v
        return out

    def targets(self, x: dict[str, np.ndarray], mode: str, rng, dt: float):
        if mode == "nonlinear":
            xn = np.concatenate(
                [(x[n] - self.mean[n]) / np.where(self.std[n] > 0, self.std[n], 1) for n, _ in V2.inputs], 1
            )
            yn = np.tanh(xn @ self.w1) @ self.w2
        elif mode == "noise":
            yn = rng.normal(size=(self.ncol, V2.n_out))
        else:
            raise ValueError(f"targets must be 'nonlinear' or 'noise', got {mode!r}")
        out, off = {}, 0
        for name, size in V2.outputs:
            y = yn[:, off : off + size]
            off += size
            if name.startswith("ptend_"):
                state = "state_" + name[len("ptend_") :]
                tend = 0.1 * self.std[state] / dt * y  # a tenth of the spread per step
                if name.startswith("ptend_q"):
                    tend = np.maximum(tend, -x[state] / dt)  # water never goes negative
                out[name] = tend
            else:
                out[name] = _CAM_BASE[name] * (1.0 + 0.5 * np.tanh(y))
        # Precipitation closes the column water budget where it can (see hybridge.physics):
        # rho_w * PRECC = LHFLX/Lv - sum_k ptend_q[k] dp[k]/g, never negative; the snow part
        # PRECSC grows as the lowest level gets colder than freezing.
        mass = self.grid.dp(x["state_ps"][:, 0]) / GRAVIT
        gain = sum((out[n] * mass).sum(1) for n in ("ptend_q0001", "ptend_q0002", "ptend_q0003"))
        precc = np.maximum(x["pbuf_LHFLX"][:, 0] / LATVAP - gain, 0.0) / RHOH2O
        snow = 1.0 / (1.0 + np.exp((x["state_t"][:, -1] - 273.15) / 5.0))
        out["cam_out_PRECC"], out["cam_out_PRECSC"] = precc[:, None], (precc * snow)[:, None]
        return out


def _write(path: Path, fields: dict[str, np.ndarray], ymd: int, tod: int, lat, lon) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with netCDF4.Dataset(tmp, "w", format="NETCDF4") as d:
        d.createDimension("ncol", lat.size)
        d.createDimension("lev", NLEV)
        for name, val, units in (("lat", lat, "degrees_north"), ("lon", lon, "degrees_east")):
            v = d.createVariable(name, "f8", ("ncol",))
            v[:] = val
            v.units = units
        d.createVariable("ymd", "i4", ())[:] = ymd
        d.createVariable("tod", "i4", ())[:] = tod
        for name, a in fields.items():
            if a.shape[1] == 1:
                d.createVariable(name, "f8", ("ncol",))[:] = a[:, 0]
            else:
                d.createVariable(name, "f8", ("lev", "ncol"))[:] = a.T
    os.replace(tmp, path)


def write_climsim_dataset(
    root,
    n_steps: int = 8,
    start: str = "0001-02-01-00000",
    targets: str = "nonlinear",
    seed: int = 0,
    case: str = "E3SM-MMF",
    dt: float = DT_CLIMSIM,
    ncol: int | None = None,
) -> list[Path]:
    """Write ``n_steps`` consecutive time steps (``dt`` apart); returns the ``.mli`` paths."""
    root = Path(root)
    gen = _Generator(seed, ncol or load_grid().ncol)
    lat, lon = gen.lat, load_grid().lon[: gen.ncol]
    y, m, d, s = (int(v) for v in start.split("-"))
    written = []
    for step in range(n_steps):
        rng = np.random.default_rng((seed, step))
        x = gen.inputs(rng)
        tend = gen.targets(x, targets, rng, dt)
        mlo = {"state_ps": x["state_ps"]}
        for state in _STATES:
            mlo[state] = x[state] + dt * tend["ptend_" + state[len("state_") :]]
        mlo.update({n: tend[n] for n in CAM_OUT})
        folder = root / f"{y:04d}-{m:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = f"{y:04d}-{m:02d}-{d:02d}-{s:05d}"
        ymd = y * 10000 + m * 100 + d
        mli_path = folder / f"{case}.mli.{stamp}.nc"
        _write(mli_path, x, ymd, s, lat, lon)
        _write(folder / f"{case}.mlo.{stamp}.nc", mlo, ymd, s, lat, lon)
        written.append(mli_path)
        y, m, d, s = _advance(y, m, d, s, dt)
    return written


def add_arguments(p) -> None:
    p.add_argument("out", help="directory to write YYYY-MM/<case>.mli/.mlo.*.nc into")
    p.add_argument("--steps", type=int, default=72, help="time steps (files pairs) to write")
    p.add_argument("--start", default="0001-02-01-00000", help="first step, YYYY-MM-DD-SSSSS")
    p.add_argument("--targets", choices=["nonlinear", "noise"], default="nonlinear")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--case", default="E3SM-MMF", help="file name prefix")


def run(args) -> int:
    paths = write_climsim_dataset(args.out, args.steps, args.start, args.targets, args.seed, args.case)
    print(f"wrote {len(paths)} .mli/.mlo pairs under {args.out} ({paths[0].name} .. {paths[-1].name})")
    return 0
