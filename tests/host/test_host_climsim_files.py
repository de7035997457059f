"""The .mli/.mlo files have ClimSim's names, folders, dimensions and variables, and load in
the Python toolkit (hybridge.data.files) as a v1 training pair."""

import netCDF4
import numpy as np

from conftest import run_host, write_namelist

MLI_VARS = {
    "state_t": ("lev", "ncol"),
    "state_q0001": ("lev", "ncol"),
    "state_ps": ("ncol",),
    "pbuf_SOLIN": ("ncol",),
    "pbuf_LHFLX": ("ncol",),
    "pbuf_SHFLX": ("ncol",),
}
MLO_VARS = {
    "state_t": ("lev", "ncol"),
    "state_q0001": ("lev", "ncol"),
    "state_ps": ("ncol",),
    **{
        f"cam_out_{n}": ("ncol",)
        for n in ("NETSW", "FLWDS", "PRECSC", "PRECC", "SOLS", "SOLL", "SOLSD", "SOLLD")
    },
}


def test_files_are_climsim_shaped_and_load_in_the_toolkit(host_exe, tmp_path):
    nml = write_namelist(
        tmp_path / "atm_in",
        stop_option="nsteps",
        stop_n=4,
        mli_interval_steps=2,
        history_interval_steps=0,
        restart_at_end=False,
        output_dir="out",
        case_name="E3SM-MMF",
    )
    run_host(host_exe, nml, nranks=2)
    mli = sorted((tmp_path / "out" / "0001-02").glob("E3SM-MMF.mli.*.nc"))
    assert [p.name for p in mli] == ["E3SM-MMF.mli.0001-02-01-00000.nc", "E3SM-MMF.mli.0001-02-01-02400.nc"]
    for path in mli:
        for kind, expected in (("mli", MLI_VARS), ("mlo", MLO_VARS)):
            with netCDF4.Dataset(str(path).replace(".mli.", f".{kind}.")) as ds:
                assert ds.dimensions["ncol"].size == 384 and ds.dimensions["lev"].size == 60
                for name, dims in expected.items():
                    assert ds[name].dimensions == dims, (kind, name)
                    assert np.isfinite(ds[name][:]).all()

    from hybridge.data.files import find_pairs, read_pair
    from hybridge.data.variables import V1

    pairs = find_pairs(tmp_path / "out")
    assert len(pairs) == 2
    x, y = read_pair(pairs[0], V1)
    assert x.shape == (384, 124) and y.shape == (384, 128)
    with netCDF4.Dataset(pairs[0].mli) as a, netCDF4.Dataset(pairs[0].mlo) as b:
        ptend_t = (np.asarray(b["state_t"][:]) - np.asarray(a["state_t"][:])) / 1200.0
    np.testing.assert_allclose(y[:, :60], ptend_t.T.astype(np.float32), rtol=1e-5, atol=1e-9)
