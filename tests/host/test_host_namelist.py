"""Bad namelists stop the run before any time step, with a message naming the problem."""

import pytest

from conftest import run_host

CASES = [
    ("unknown key", "  physics_modes = 'ml'\n", "physics_modes"),
    (
        "bad physics_mode",
        "  physics_mode = 'hybrid'\n",
        "physics_mode = 'hybrid': expected one of 'conventional' 'ml' 'partial'",
    ),
    ("integer given text", "  stop_n = 'ten'\n", "stop_n = 'ten'"),
    ("logical given a number", "  restart_at_end = 7\n", "restart_at_end = 7"),
    ("negative interval", "  mli_interval_steps = -3\n", "mli_interval_steps = -3 < 0"),
    (
        "bad on_ml_error",
        "  on_ml_error = 'ignore'\n",
        "on_ml_error = 'ignore': expected one of 'abort' 'fallback'",
    ),
    ("bad nonfinite_policy", "  nonfinite_policy = 'zero'\n", "nonfinite_policy = 'zero'"),
    ("bad batching", "  batching = 'global'\n", "batching = 'global'"),
    ("bad device", "  device = 'tpu'\n", "device = 'tpu'"),
    ("bad date", "  start_date = '0001-02-30'\n", "start_date = '0001-02-30'"),
    ("ml without model", "  physics_mode = 'ml'\n", "model_path: required for physics_mode = 'ml'"),
    (
        "partial without variables",
        "  physics_mode = 'partial'\n  model_path = 'm.pt'\n",
        "physics_mode = 'partial' needs at least one variable",
    ),
    (
        "unknown ml variable",
        "  physics_mode = 'partial'\n  model_path = 'm.pt'\n  ml_variables = 'ptend_u'\n",
        "'ptend_u' is not an emulator output",
    ),
    (
        "variables in conventional mode",
        "  ml_variables = 'ptend_t'\n",
        "physics_mode = 'conventional' uses no emulator",
    ),
    (
        "unknown guard mode",
        "  ml_guard = 'sometimes'\n",
        "ml_guard = 'sometimes': expected one of 'off' 'fallback' 'clip'",
    ),
    ("negative guard margin", "  ml_guard_margin = -0.5\n", "ml_guard_margin = -0.5"),
    (
        "guard margin not a number",
        "  ml_guard_margin = NaN\n",
        "ml_guard_margin = NaN: must be a number from 0",
    ),
    ("infinite guard margin", "  ml_guard_margin = Inf\n", "ml_guard_margin = Inf: must be a number from 0"),
    (
        "guard in conventional mode",
        "  ml_guard = 'clip'\n",
        "ml_guard = 'clip': set, but physics_mode = 'conventional' uses no emulator",
    ),
]


@pytest.mark.parametrize("case,body,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_namelist_is_named(host_exe, tmp_path, case, body, expected):
    nml = tmp_path / "atm_in"
    nml.write_text("&hybridge_nl\n  stop_n = 1\n" + body + "/\n")
    # Two ranks once, to see that only rank 0 reports; one rank elsewhere (mpirun start-up).
    nranks = 2 if case == "unknown key" else 1
    proc = run_host(host_exe, nml, nranks=nranks, check=False, timeout=60)
    assert proc.returncode != 0
    assert "hybridge-host: error:" in proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert proc.stderr.count("hybridge-host: error:") == 1, "only rank 0 reports"
    assert not (tmp_path / "output").exists(), "nothing is written for a bad namelist"


def test_missing_namelist_file(host_exe, tmp_path):
    proc = run_host(host_exe, tmp_path / "no_such_file", check=False, timeout=60)
    assert proc.returncode != 0
    assert "no_such_file' cannot be opened" in proc.stderr


def test_missing_group(host_exe, tmp_path):
    nml = tmp_path / "atm_in"
    nml.write_text("&other_nl\n x = 1\n/\n")
    proc = run_host(host_exe, nml, check=False, timeout=60)
    assert "no &hybridge_nl group found" in proc.stderr or "other_nl" in proc.stderr, proc.stderr
