"""Small ClimSim-format datasets for tests, benchmarks and the demo.

Writes ``YYYY-MM/<case>.mli.YYYY-MM-DD-SSSSS.nc`` and ``.mlo.`` pairs with the variable
names and dims of the real ClimSim files (profiles stored ``(lev, ncol)``), by default on the
real grid (``ncol`` = 384, ``lev`` = 60), with inputs drawn around the real ``input_mean`` /
``input_std``. Inputs share a few smooth vertical modes driven by per-column latent
factors, so profiles look like profiles and latitudes differ.

Any other grid (``ncol``, ``nlev``): the first ``ncol`` ClimSim columns, or equal-area
random columns beyond 384; the ClimSim statistics and hybrid coefficients interpolated to
``nlev`` levels. Such a dataset gets ``grid_info.nc`` (lat, lon, area, hyai, hybi, hyam,
hybm) at its root, the grid file ``hybridge evaluate --grid`` and ``train``'s ``grid`` read.

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
from .calendar import advance, parse_stamp
from .climsim import P0, Grid, input_stat, load_grid
from .files import DT_CLIMSIM, check_case
from .variables import CAM_OUT, NLEV, V1, V2

GRID_FILE = "grid_info.nc"  # written beside the data when the grid is not ClimSim's
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


def _on_levels(profile: np.ndarray, nlev: int) -> np.ndarray:
    """A ClimSim 60-level (or 61-interface) array interpolated to ``nlev`` levels (``nlev + 1``
    interfaces): level k of nlev sits at the same fraction of the column as in ClimSim."""
    n = profile.size - 1 if profile.size == NLEV + 1 else profile.size
    if nlev == n:
        return profile.copy()
    if profile.size == NLEV + 1:  # interfaces
        return np.interp(np.arange(nlev + 1) * NLEV / nlev, np.arange(NLEV + 1), profile)
    return np.interp((np.arange(nlev) + 0.5) * NLEV / nlev - 0.5, np.arange(NLEV), profile)


def synthetic_grid(ncol: int, nlev: int) -> Grid:
    """ClimSim's grid, its first ``ncol`` columns, or beyond 384 columns equal-area random
    columns (seeded); hybrid coefficients interpolated to ``nlev`` levels."""
    real = load_grid()
    if ncol <= real.ncol:
        lat, lon, area = real.lat[:ncol], real.lon[:ncol], real.area[:ncol]
    else:
        rng = np.random.default_rng(384)
        lat = np.rad2deg(np.arcsin(rng.uniform(-1.0, 1.0, ncol)))
        lon = rng.uniform(0.0, 360.0, ncol)
        area = np.full(ncol, 4.0 * np.pi / ncol)
    return Grid(
        lat=lat,
        lon=lon,
        area=area,
        hyai=_on_levels(real.hyai, nlev),
        hybi=_on_levels(real.hybi, nlev),
        hyam=_on_levels(real.hyam, nlev),
        hybm=_on_levels(real.hybm, nlev),
        ps=np.full(ncol, P0),
    )


def write_grid_file(path: Path, grid: Grid) -> None:
    """``grid_info.nc``: lat, lon, area ``(ncol)``, hyai, hybi ``(ilev)``, hyam, hybm ``(lev)``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with netCDF4.Dataset(tmp, "w", format="NETCDF4") as d:
        d.createDimension("ncol", grid.ncol)
        d.createDimension("lev", grid.nlev)
        d.createDimension("ilev", grid.nlev + 1)
        for name, dim, units in (
            ("lat", "ncol", "degrees_north"),
            ("lon", "ncol", "degrees_east"),
            ("area", "ncol", "sr"),
            ("hyai", "ilev", "1"),
            ("hybi", "ilev", "1"),
            ("hyam", "lev", "1"),
            ("hybm", "lev", "1"),
        ):
            v = d.createVariable(name, "f8", (dim,))
            v[:] = getattr(grid, name)
            v.units = units
        d.createVariable("P0", "f8", ())[:] = P0
    os.replace(tmp, path)


class _Generator:
    def __init__(self, seed: int, grid: Grid):
        self.grid, self.ncol, self.nlev = grid, grid.ncol, grid.nlev
        self.layout = V2.with_levels(self.nlev)
        rng = np.random.default_rng(seed)
        self.lat = grid.lat
        lev = np.arange(self.nlev) / (self.nlev - 1)
        modes = np.stack([np.sin(np.pi * (j + 1) * lev) for j in range(_N_LATENT)])
        self.mean = {
            n: _on_levels(input_stat("mean", n, NLEV if s > 1 else 1), s) for n, s in self.layout.inputs
        }
        self.std = {
            n: _on_levels(input_stat("std", n, NLEV if s > 1 else 1), s) for n, s in self.layout.inputs
        }
        # loading of latent factor j on each level of a variable: (n_latent, size)
        self.load = {
            n: rng.normal(size=(_N_LATENT, 1)) * (modes if s > 1 else 1.0) for n, s in self.layout.inputs
        }
        # the targets depend on the v1 inputs only, so v1 and v2 emulators can both learn them
        v1_rows = np.concatenate(
            [np.arange(o, o + s) for n, (o, s) in self.layout.offsets("in").items() if n in dict(V1.inputs)]
        )
        self.w1 = np.zeros((self.layout.n_in, _N_HIDDEN))
        self.w1[v1_rows] = rng.normal(size=(v1_rows.size, _N_HIDDEN)) / np.sqrt(v1_rows.size / 4)
        self.w2 = rng.normal(size=(_N_HIDDEN, self.layout.n_out)) / np.sqrt(_N_HIDDEN / 2)

    def inputs(self, rng) -> dict[str, np.ndarray]:
        """(ncol, size) per v2 input variable, around the ClimSim mean/std."""
        latent = rng.normal(size=(self.ncol, _N_LATENT))
        latent[:, 0] += np.cos(np.deg2rad(self.lat)) * 1.5 - 1.0  # warm tropics, cold poles
        out = {}
        for name, size in self.layout.inputs:
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
                [
                    (x[n] - self.mean[n]) / np.where(self.std[n] > 0, self.std[n], 1)
                    for n, _ in self.layout.inputs
                ],
                1,
            )
            yn = np.tanh(xn @ self.w1) @ self.w2
        elif mode == "noise":
            yn = rng.normal(size=(self.ncol, self.layout.n_out))
        else:
            raise ValueError(f"targets must be 'nonlinear' or 'noise', got {mode!r}")
        out, off = {}, 0
        for name, size in self.layout.outputs:
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


def _write(path: Path, fields: dict[str, np.ndarray], ymd: int, tod: int, lat, lon, nlev: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with netCDF4.Dataset(tmp, "w", format="NETCDF4") as d:
        d.createDimension("ncol", lat.size)
        d.createDimension("lev", nlev)
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
    nlev: int = NLEV,
) -> list[Path]:
    """Write ``n_steps`` consecutive time steps (``dt`` apart) of ``ncol`` columns (default
    384) and ``nlev`` levels; returns the ``.mli`` paths. A grid other than ClimSim's also
    gets ``<root>/grid_info.nc``."""
    root = Path(root)
    ncol = ncol or load_grid().ncol
    if n_steps < 1 or ncol < 1 or nlev < 2:
        raise ValueError(f"need steps >= 1, ncol >= 1, nlev >= 2; got {n_steps}, {ncol}, {nlev}")
    check_case(case)
    y, m, d, s = parse_stamp(start, "start")
    grid = synthetic_grid(ncol, nlev)
    gen = _Generator(seed, grid)
    lat, lon = grid.lat, grid.lon
    root.mkdir(parents=True, exist_ok=True)
    if (ncol, nlev) != (load_grid().ncol, NLEV):
        write_grid_file(root / GRID_FILE, grid)
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
        _write(mli_path, x, ymd, s, lat, lon, nlev)
        _write(folder / f"{case}.mlo.{stamp}.nc", mlo, ymd, s, lat, lon, nlev)
        written.append(mli_path)
        y, m, d, s = advance(y, m, d, s, dt)
    return written


def add_arguments(p) -> None:
    """``hybridge synthetic`` arguments."""
    p.add_argument("out", help="directory to write YYYY-MM/<case>.mli/.mlo.*.nc into")
    p.add_argument("--steps", type=int, default=72, help="time steps (files pairs) to write")
    p.add_argument("--start", default="0001-02-01-00000", help="first step, YYYY-MM-DD-SSSSS")
    p.add_argument("--targets", choices=["nonlinear", "noise"], default="nonlinear")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--case", default="E3SM-MMF", help="file name prefix")
    p.add_argument("--ncol", type=int, default=384, help="columns (384: the ClimSim grid)")
    p.add_argument("--nlev", type=int, default=NLEV, help="levels (60: ClimSim's)")


def run(args) -> int:
    """Validate every argument, then write the dataset."""
    for flag, value, low in (("--steps", args.steps, 1), ("--ncol", args.ncol, 1), ("--nlev", args.nlev, 2)):
        if value < low:
            raise ValueError(f"{flag} must be at least {low}, got {value}")
    check_case(args.case)
    parse_stamp(args.start, "--start")
    paths = write_climsim_dataset(
        args.out, args.steps, args.start, args.targets, args.seed, args.case, ncol=args.ncol, nlev=args.nlev
    )
    grid = f"; grid file {Path(args.out) / GRID_FILE}" if (Path(args.out) / GRID_FILE).exists() else ""
    print(
        f"wrote {len(paths)} .mli/.mlo pairs of {args.ncol} columns x {args.nlev} levels under {args.out} "
        f"({paths[0].name} .. {paths[-1].name}){grid}"
    )
    return 0
