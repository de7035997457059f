"""Held-Suarez (1994) benchmark of hybridge-host's spectral dynamical core.

Runs the dry core with the Held-Suarez forcing (``physics_package = 'held_suarez'``) for
``--days`` days, averages the history files after ``--spinup`` days and compares the
climatology with the paper's: the jet maxima of the zonal-mean zonal wind (strength, latitude,
pressure), the tropical surface winds, and it reports the zonal-mean temperature and the eddy
heat flux. Writes ``OUTDIR/held_suarez.md`` (table) and ``OUTDIR/held_suarez.png`` (figure).

    python bench/held_suarez.py OUTDIR [--days 1200] [--spinup 200] [--truncation T63] [--nlev 20]
                                       [--levels sigma|climsim] [--diffusion-time 8640]
    python bench/held_suarez.py OUTDIR --analyse-only    # the run is already in OUTDIR/run

Reference values, Held and Suarez (1994, Bull. Amer. Meteor. Soc. 75, 1825), Fig. 2 (the
spectral T63 L20 and grid-point models): zonal-mean zonal wind maxima of about 30 m/s near
45 degrees in each hemisphere at about 250 hPa (sigma ~ 0.25), weak easterlies at the surface in
the tropics. "Within 10 %" (issue 14): jet speed 27-33 m/s, jet latitude 40.5-49.5 degrees.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import time
from pathlib import Path

import netCDF4
import numpy as np

from hybridge.online.host import find_host, namelist_text

P0 = 1.0e5
START = "0001-02-01-00000"  # the host's default start date
REF_JET_SPEED = 30.0  # m/s
REF_JET_LAT = 45.0  # degrees
REF_JET_P = 250.0  # hPa
TOLERANCE = 0.10


def climatology(run_dir: Path, spinup_days: float) -> dict:
    """Time and zonal means of the history files ending after spinup_days."""
    grid = netCDF4.Dataset(next(run_dir.glob("*.grid-info.nc")))
    lat = np.asarray(grid["lat"][:])
    hyam, hybm = np.asarray(grid["hyam"][:]), np.asarray(grid["hybm"][:])
    nlat = len(np.unique(lat))
    files = sorted(glob.glob(str(run_dir / "*.h0.*.nc")))
    names = ("state_u", "state_v", "state_t", "state_vt", "state_ps")
    sums = None
    used = 0
    for f in files:
        stamp = Path(f).name.split(".h0.")[1][:-3]
        if _days(stamp) - _days(START) <= spinup_days:
            continue
        with netCDF4.Dataset(f) as d:
            fields = {k: np.asarray(d[k][:], dtype=np.float64) for k in names}
        sums = fields if sums is None else {k: sums[k] + fields[k] for k in names}
        used += 1
    if used == 0:
        raise SystemExit(f"held_suarez: no history after day {spinup_days} in {run_dir}")
    u, v, t, vt, ps = (sums[k] / used for k in names)
    nlev = u.shape[0]
    nlon = u.shape[1] // nlat

    def zonal(x):
        return x.reshape(x.shape[0], nlat, nlon).mean(axis=2)

    lats = lat.reshape(nlat, nlon)[:, 0]
    zu, zv, zt, zvt = zonal(u), zonal(v), zonal(t), zonal(vt)
    # Eddy heat flux: [vT] - [v][T] of the interval means (stationary and transient eddies).
    eddy = zonal(vt) - zv * zt
    p_hpa = (hyam * P0 + hybm * P0) / 100.0
    return {
        "lat": lats,
        "p": p_hpa,
        "u": zu,
        "t": zt,
        "eddy_heat_flux": eddy,
        "ps_mean": float(ps.mean()),
        "samples": used,
        "nlev": nlev,
        "vt": zvt,
    }


def _days(stamp: str) -> float:
    y, m, d, s = (int(x) for x in stamp.split("-"))
    before = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
    return (y - 1) * 365 + before[m - 1] + (d - 1) + s / 86400.0


def jet(c: dict, hemisphere: int) -> tuple[float, float, float]:
    """(speed, latitude, pressure) of the zonal-mean u maximum in one hemisphere, the latitude
    and pressure refined by a parabola through the maximum and its neighbours."""
    lat, p, u = c["lat"], c["p"], c["u"]
    cols = np.where(lat * hemisphere > 0)[0]
    sub = u[:, cols]
    k, j = np.unravel_index(np.argmax(sub), sub.shape)
    jj = cols[j]
    speed = float(u[k, jj])
    lat_peak = _parabola(lat, u[k, :], jj)
    p_peak = float(np.exp(_parabola(np.log(p), u[:, jj], k)))
    return speed, lat_peak, p_peak


def _parabola(x: np.ndarray, y: np.ndarray, i: int) -> float:
    if i == 0 or i == len(x) - 1:
        return float(x[i])
    a, b, _ = np.polyfit(x[i - 1 : i + 2], y[i - 1 : i + 2], 2)
    return float(-b / (2 * a)) if a < 0 else float(x[i])


def report(c: dict, outdir: Path, command: str, seconds: float | None, days: float) -> str:
    north, south = jet(c, +1), jet(c, -1)
    tropics = np.abs(c["lat"]) < 15.0
    sfc_u_tropics = float(c["u"][-1, tropics].mean())
    sfc_u_min = float(c["u"][-1, tropics].min())
    k, j = np.unravel_index(np.argmax(np.abs(c["eddy_heat_flux"])), c["eddy_heat_flux"].shape)
    ehf = (float(c["eddy_heat_flux"][k, j]), float(c["lat"][j]), float(c["p"][k]))
    teq = c["t"][-1, np.argmin(np.abs(c["lat"]))]

    def within(value, ref):
        return "yes" if abs(value - ref) <= TOLERANCE * abs(ref) else "no"

    rows = [
        "| quantity | this run (north / south) | Held and Suarez 1994 | within 10 % |",
        "|---|---|---|---|",
        f"| jet maximum of zonal-mean u [m/s] | {north[0]:.1f} / {south[0]:.1f} | ~{REF_JET_SPEED:.0f} | "
        f"{within(north[0], REF_JET_SPEED)} / {within(south[0], REF_JET_SPEED)} |",
        f"| jet latitude [deg] | {north[1]:.1f} / {south[1]:.1f} | ~{REF_JET_LAT:.0f} | "
        f"{within(abs(north[1]), REF_JET_LAT)} / {within(abs(south[1]), REF_JET_LAT)} |",
        f"| jet pressure [hPa] | {north[2]:.0f} / {south[2]:.0f} | ~{REF_JET_P:.0f} | "
        f"{within(north[2], REF_JET_P)} / {within(south[2], REF_JET_P)} |",
        f"| zonal-mean u, lowest level, 15S-15N mean / min [m/s] | {sfc_u_tropics:.2f} / {sfc_u_min:.2f} "
        "| weak easterlies | " + ("yes" if sfc_u_tropics < 0 else "no") + " |",
        f"| largest eddy heat flux [v*T*] [K m/s] (lat, p) | {ehf[0]:.1f} "
        f"({ehf[1]:.0f} deg, {ehf[2]:.0f} hPa) "
        "| lower-troposphere midlatitude maxima | - |",
        f"| zonal-mean T, lowest level at the equator [K] | {teq:.1f} | - | - |",
    ]
    head = (
        f"Held-Suarez benchmark: {days:.0f} days, averages over {c['samples']} history intervals after "
        f"the spin-up, {c['nlev']} levels; `{command}`"
        + (f"; {seconds / days:.2f} s per simulated day" if seconds else "")
        + "\n\n"
    )
    text = head + "\n".join(rows) + "\n"
    (outdir / "held_suarez.md").write_text(text)
    figure(c, outdir / "held_suarez.png")
    return text


def figure(c: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), constrained_layout=True)
    keep = c["p"] > 10.0  # the troposphere and lower stratosphere, as HS94 show them
    for ax, key, title, levels in (
        (axes[0], "u", "zonal-mean u [m/s]", np.arange(-40, 45, 5)),
        (axes[1], "t", "zonal-mean T [K]", np.arange(180, 320, 10)),
        (axes[2], "eddy_heat_flux", "eddy heat flux [v*T*] [K m/s]", np.arange(-30, 32, 4)),
    ):
        cs = ax.contourf(c["lat"], c["p"][keep], c[key][keep], levels=levels, cmap="RdBu_r", extend="both")
        ax.contour(c["lat"], c["p"][keep], c[key][keep], levels=levels, colors="k", linewidths=0.4)
        fig.colorbar(cs, ax=ax)
        ax.set_ylim(1000, 10)
        ax.set_yscale("log")
        ax.set_xlabel("latitude [deg]")
        ax.set_ylabel("pressure [hPa]")
        ax.set_title(title)
    fig.suptitle("hybridge-host spectral core, Held-Suarez forcing (compare Held and Suarez 1994, Fig. 2)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--days", type=int, default=1200)
    parser.add_argument("--spinup", type=int, default=200)
    parser.add_argument("--truncation", default="T63", help="T63: the paper's spectral model")
    parser.add_argument("--nlev", type=int, default=20)
    parser.add_argument(
        "--levels",
        choices=("sigma", "climsim"),
        default="sigma",
        help="equally spaced sigma levels as in the paper (default), or every (60/nlev)-th ClimSim interface",
    )
    parser.add_argument(
        "--diffusion-time",
        type=float,
        default=8640.0,
        help="e-folding time [s] of the del^8 hyperdiffusion at the truncation limit (dyn_diffusion_time)",
    )
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--analyse-only", action="store_true")
    args = parser.parse_args(argv)
    out = args.outdir.resolve()
    run_dir = out / "run"
    seconds = None
    command = (
        f"python bench/held_suarez.py {args.outdir} --days {args.days} --spinup {args.spinup} "
        f"--truncation {args.truncation} --nlev {args.nlev} --levels {args.levels}"
        f" --diffusion-time {args.diffusion_time:g}"
    )
    if not args.analyse_only:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "atm_in").write_text(
            namelist_text(
                dynamics="spectral",
                truncation=args.truncation,
                nlev=args.nlev,
                vertical_levels=args.levels,
                dyn_diffusion_time=args.diffusion_time,
                physics_package="held_suarez",
                stop_option="ndays",
                stop_n=args.days,
                history_interval_steps=72 * 10,
                restart_interval_steps=0,
                output_dir="out",
                log_interval_steps=72 * 10,
            )
        )
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        start = time.monotonic()
        with open(run_dir / "host.log", "w") as log:
            proc = subprocess.run(
                ["mpirun", "-n", str(args.ranks), str(find_host()), "atm_in"],
                cwd=run_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            raise SystemExit(
                f"held_suarez: the run failed (exit {proc.returncode}); see {run_dir / 'host.log'}"
            )
    c = climatology(run_dir / "out", args.spinup)
    print(report(c, out, command, seconds, args.days))
    return 0


if __name__ == "__main__":
    sys.exit(main())
