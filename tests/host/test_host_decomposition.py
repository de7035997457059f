"""PEM: one simulated day of conventional physics on 1, 2, 3 and 5 ranks (5 ranks split the
384 columns unevenly, 76 or 77 each) writes identical files, bit for bit."""

from conftest import STEPS_PER_DAY, assert_same_netcdf, nc_files, run_host, write_namelist


def test_one_day_identical_on_1_2_3_5_ranks(host_exe, tmp_path):
    outputs = {}
    for nranks in (1, 2, 3, 5):
        run_dir = tmp_path / f"n{nranks}"
        run_dir.mkdir()
        nml = write_namelist(
            run_dir / "atm_in",
            stop_option="ndays",
            stop_n=1,
            mli_interval_steps=STEPS_PER_DAY // 3,
            history_interval_steps=STEPS_PER_DAY,
            output_dir="out",
            log_interval_steps=STEPS_PER_DAY,
        )
        run_host(host_exe, nml, nranks)
        outputs[nranks] = run_dir / "out"
    files = nc_files(outputs[1])
    names = [f.name for f in files]
    assert sum(".mli." in n for n in names) == 3 and sum(".mlo." in n for n in names) == 3
    assert any(".h0." in n for n in names) and any(".r." in n for n in names)
    for nranks in (2, 3, 5):
        assert nc_files(outputs[nranks]) == files
        for f in files:
            assert_same_netcdf(outputs[1] / f, outputs[nranks] / f)
