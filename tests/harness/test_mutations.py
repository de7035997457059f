"""The harness must be able to fail: each injected coupling bug is caught, and the report
names where (rank, column on that rank, variable)."""

from harness_run import HOST, rows_by_test, run_verify

V1_OUTPUT_VARIABLES = ("ptend_t", "ptend_q0001", "cam_out_")


def test_one_ulp_on_one_input_of_one_column_is_caught(built, tmp_path):
    proc, report = run_verify(
        tmp_path,
        2,
        "--tests",
        "PYREF",
        "--layers",
        "fortran,host-driver",
        "--mutate",
        "perturb_input",
        "--mutate-rank",
        "1",
        "--mutate-column",
        "2",
    )
    assert proc.returncode != 0, proc.stdout
    for test in ("PYREF mlp_v1 fortran", "PYREF host_model host-driver"):
        row = rows_by_test(report)[test]
        first = row["first_difference"]
        assert row["verdict"] == "FAIL" and row["max_ulps"] >= 1, row
        assert (first["rank"], first["local_column"], first["step"]) == (1, 2, 0)
        assert first["tensor"] == "output y" and first["variable"].startswith(V1_OUTPUT_VARIABLES)
    assert "rank 1 column 2" in proc.stdout
    assert rows_by_test(report)["PYREF recurrent fortran"]["verdict"] == "FAIL"


def test_two_swapped_columns_are_caught(built, tmp_path):
    proc, report = run_verify(
        tmp_path,
        2,
        "--tests",
        "PYREF",
        "--layers",
        "c",
        "--mutate",
        "swap_columns",
        "--mutate-rank",
        "0",
        "--mutate-column",
        "3",
    )
    assert proc.returncode != 0, proc.stdout
    for fixture in ("mlp_v1", "multi_io", "recurrent"):
        row = rows_by_test(report)[f"PYREF {fixture} c"]
        assert row["verdict"] == "FAIL"
        assert (row["first_difference"]["rank"], row["first_difference"]["local_column"]) == (0, 3)
    assert rows_by_test(report)["PYREF multi_io c"]["first_difference"]["variable"].startswith(
        ("tendencies", "cam_out_")
    )


def test_restart_without_recurrent_state_is_caught(built, tmp_path):
    host = [] if HOST.exists() else ["--no-host"]
    proc, report = run_verify(
        tmp_path, 2, "--tests", "ERS", "--nstep", "4", "--host-steps", "4", "--mutate", "drop_state", *host
    )
    assert proc.returncode != 0, proc.stdout
    rows = rows_by_test(report)
    first = rows["ERS recurrent fortran"]["first_difference"]
    # Restarted after step 1 (of 0..3): step 2 is the first to run without the state.
    assert rows["ERS recurrent fortran"]["verdict"] == "FAIL"
    assert first["tensor"] == "output y" and first["step"] == 2
    assert (first["rank"], first["local_column"]) == (0, 0)
    if HOST.exists():
        # The host is given a restart file stripped of ml_state; it must not carry on
        # silently: either it refuses the file (ERROR with its message) or its results differ.
        row = rows["ERS host recurrent"]
        assert row["verdict"] in ("ERROR", "FAIL"), row
        if row["verdict"] == "ERROR":
            assert "no_ml_state.nc" in row["error"] and "state" in row["error"], row["error"]
        else:
            assert row["first_difference"]["rank"] is not None, row
