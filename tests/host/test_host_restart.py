"""ERS: N steps straight equal N/2 steps, a restart, and N/2 more, bit for bit; the
history mean spans the restart, so its running sums must travel in the restart file."""

from conftest import assert_same_netcdf, nc_files, run_host, write_namelist

N = 48


def test_restart_continues_bit_for_bit(host_exe, tmp_path):
    common = {
        "stop_option": "nsteps",
        "mli_interval_steps": 8,
        "history_interval_steps": N,
        "log_interval_steps": N,
    }
    straight = tmp_path / "straight"
    straight.mkdir()
    run_host(host_exe, write_namelist(straight / "atm_in", stop_n=N, output_dir="out", **common), 2)

    split = tmp_path / "split"
    split.mkdir()
    run_host(host_exe, write_namelist(split / "atm_in", stop_n=N // 2, output_dir="out", **common), 1)
    restarts = sorted((split / "out").glob("*.r.*.nc"))
    assert [r.name for r in restarts] == ["E3SM-MMF.r.0001-02-01-28800.nc"]
    run_host(
        host_exe,
        write_namelist(
            split / "atm_in2", stop_n=N // 2, output_dir="out", restart_file=str(restarts[0]), **common
        ),
        3,
    )

    files = nc_files(straight / "out")
    assert set(files) <= set(nc_files(split / "out"))
    for f in files:
        assert_same_netcdf(straight / "out" / f, split / "out" / f)
    assert not list((split / "out").rglob("*.tmp")), "temporary files left behind"
