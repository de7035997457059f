"""The host model's namelist takes either model format: model_path naming a .pt2 package
runs it through the same hyb_load, and what the host writes is bit for bit what the file
computes in Python on the inputs the host wrote (aoti_load_package for the package,
torch.jit.load for TorchScript). Skipped when hybridge-host was built without hybridge.

The model is the verification harness's tame recurrent v1 emulator (a linear layer over the
124 inputs and a recurrent state h [2, 4]); two steps, so the second step runs on the state
the first one left. The .mlo files hold the emulator's cam_out_* outputs as they came back
and the state after physics_update, state_t + 1200 s * ptend_t (ptend_q0001 is zero).
"""

from pathlib import Path

import netCDF4
import numpy as np
import pytest
import torch

from conftest import log_rows, run_host, write_namelist
from hybridge.testing.models import SUFFIX, reference
from hybridge.verify.host_model import make_host_model

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:`torch.jit:DeprecationWarning")

DT = 1200.0
CAM_OUT = ["NETSW", "FLWDS", "PRECSC", "PRECC", "SOLS", "SOLL", "SOLSD", "SOLLD"]


def _inputs(mli: Path) -> np.ndarray:
    """x [ncol, 124] in the manifest's order, float64, from a .mli file."""
    with netCDF4.Dataset(mli) as f:
        profiles = [np.asarray(f[v][:], dtype=np.float64).T for v in ("state_t", "state_q0001")]
        scalars = [
            np.asarray(f[v][:], dtype=np.float64)[:, None]
            for v in ("state_ps", "pbuf_SOLIN", "pbuf_LHFLX", "pbuf_SHFLX")
        ]
    return np.concatenate(profiles + scalars, axis=1)


@pytest.mark.parametrize("fmt", ["pt2", "torchscript"])
def test_ml_mode_runs_either_format_bit_for_bit(host_exe, tmp_path, fmt):
    model = make_host_model(tmp_path / f"emulator{SUFFIX[fmt]}", format=fmt)
    namelist = write_namelist(
        tmp_path / "atm_in",
        physics_mode="ml",
        model_path=str(model),
        ml_chunk=0,
        num_threads=1,
        stop_option="nsteps",
        stop_n=2,
        mli_interval_steps=1,
        history_interval_steps=2,
        log_interval_steps=1,
        output_dir="out",
    )
    proc = run_host(host_exe, namelist, nranks=1, check=False, timeout=300)
    if "built without" in proc.stderr:
        pytest.skip("hybridge-host was built without the hybridge library")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert all(int(r[10]) == 0 for r in log_rows(proc.stdout)), "no column fell back to conventional physics"
    mli = sorted((tmp_path / "out").rglob("*.mli.*.nc"))
    mlo = sorted((tmp_path / "out").rglob("*.mlo.*.nc"))
    assert len(mli) == len(mlo) == 2, (mli, mlo)
    saved = torch.get_num_threads()
    torch.set_num_threads(1)  # the host's num_threads
    try:
        states = None
        for step, (a, b) in enumerate(zip(mli, mlo, strict=True)):
            x = _inputs(a)
            want, states = reference(model, {"x": x}, states)
            y = want["y"]
            with netCDF4.Dataset(b) as f:
                for k, name in enumerate(CAM_OUT):
                    got = np.asarray(f[f"cam_out_{name}"][:], dtype=np.float64)
                    assert got.tobytes() == y[:, 120 + k].tobytes(), f"step {step + 1}: cam_out_{name}"
                t_after = np.asarray(f["state_t"][:], dtype=np.float64).T
            assert t_after.tobytes() == (x[:, :60] + DT * y[:, :60]).tobytes(), f"step {step + 1}: state_t"
    finally:
        torch.set_num_threads(saved)
