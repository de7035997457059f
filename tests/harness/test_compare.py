"""The byte comparison and its report, without MPI."""

import numpy as np
import pytest

from hybridge.verify.api_rows import block_counts
from hybridge.verify.compare import column_owner, compare, ulps, variable_at
from hybridge.verify.matrix import Row, format_table

LAYOUT = [("ptend_t", 0, 3), ("cam_out_NETSW", 3, 1)]


def test_ulps_counts_representable_numbers_across_zero():
    one = np.float32(1.0)
    assert ulps(np.array([one]), np.array([np.nextafter(one, np.float32(2))]), "float32")[0] == 1
    tiny = np.float32(np.finfo(np.float32).smallest_subnormal)
    assert ulps(np.array([-tiny]), np.array([tiny]), "float32")[0] == 2
    assert ulps(np.array([-0.0]), np.array([0.0]), "float64")[0] == 0
    assert ulps(np.array([1.0]), np.array([np.nextafter(1.0, 2.0)]), "float64")[0] == 1


def test_equal_bytes_pass_and_signed_zero_does_not():
    a = np.arange(12.0).reshape(3, 4)
    assert compare("y", a, a.copy()).equal
    b = a.copy()
    b[0, 0] = -0.0
    d = compare("y", a, b)
    assert not d.equal and d.max_abs_diff == 0.0 and d.n_different == 1


def test_first_difference_names_step_rank_column_and_variable():
    ref = np.zeros((2, 7, 4), dtype=np.float64)  # [step, column, value]
    cand = ref.copy()
    cand[1, 5, 2] = np.float64(np.nextafter(np.float32(0), np.float32(1)))
    cand[1, 6, 0] = 1e-3
    d = compare(
        "output y",
        ref,
        cand,
        precision="float32",
        counts=block_counts(7, 3),
        layout=LAYOUT,
        column_axis=1,
        step_axis=0,
    )
    assert (d.step, d.column, d.rank, d.local_column, d.variable) == (1, 5, 2, 1, "ptend_t[2]")
    assert d.n_different == 2 and d.max_abs_diff == pytest.approx(1e-3)
    assert "rank 2 column 1 (global column 5)" in d.where()


def test_column_axis_last_as_in_netcdf():
    ref = np.zeros((60, 384))  # (lev, ncol)
    cand = ref.copy()
    cand[12, 200] = 1.0
    d = compare("state_t", ref, cand, counts=block_counts(384, 4), column_axis=1, layout=[("state_t", 0, 60)])
    assert (d.rank, d.local_column, d.variable) == (2, 8, "state_t[12]")


def test_decomposition_matches_host_model():
    assert block_counts(384, 3) == [128, 128, 128]
    assert block_counts(7, 3) == [2, 2, 3]
    assert column_owner(4, [2, 2, 3]) == (2, 0)
    with pytest.raises(IndexError):
        column_owner(7, [2, 2, 3])
    assert variable_at(3, LAYOUT, "y") == "cam_out_NETSW" and variable_at(9, None, "h") == "h[9]"


def test_shape_mismatch_is_an_error_naming_the_tensor():
    with pytest.raises(ValueError, match="output y"):
        compare("output y", np.zeros((2, 3)), np.zeros((3, 2)))


def test_measured_rows_never_fail_and_table_names_first_difference():
    ref = np.zeros((1, 4, 4))
    cand = ref.copy()
    cand[0, 3, 1] = 1.0
    diff = compare("output y", ref, cand, counts=[2, 2], layout=LAYOUT, column_axis=1, step_axis=0)
    strict = Row("PEM x chunk=16", "1,2", "1", [diff])
    measured = Row("PEM x no chunk", "1,2", "1", [diff], expect_equal=False)
    assert strict.failed and not measured.failed and measured.verdict == "MEASURED"
    table = format_table([strict, measured])
    assert "FAIL" in table and "rank 1 column 1 (global column 3)" in table
