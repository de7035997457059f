"""Record and replay on hybridge-host (issue 17): the host's own emulator calls, recorded by the
engine through the namelist's ml_options on two ranks, rerun in Python bit for bit by
`hybridge verify replay`; the same record with one output value moved by one ulp fails."""

import shutil
from pathlib import Path

import numpy as np
import pytest

import ml_fixtures
from conftest import CLIMSIM, run_host, write_namelist
from hybridge.cli import main as cli_main
from hybridge.verify.replay import replay

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


@pytest.fixture(scope="module")
def recorded(ml_host_exe, tmp_path_factory):
    """The recurrent emulator in ml mode for 4 steps on 2 ranks, calls 2 and 4 recorded."""
    d = tmp_path_factory.mktemp("host_replay")
    model = ml_fixtures.make("recurrent_v1", d / "recurrent_v1.pt", CLIMSIM)
    calls = d / "calls"
    namelist = write_namelist(
        d / "atm_in",
        physics_mode="ml",
        model_path=str(model),
        ml_options=f"record={calls};record_calls=2,4",
        stop_option="nsteps",
        stop_n=4,
        restart_at_end=False,
        output_dir="out",
    )
    run_host(ml_host_exe, namelist, 2, timeout=300)
    return model, calls


def test_the_host_s_recorded_calls_replay_bit_for_bit(recorded, capsys):
    model, calls = recorded
    replayed = replay(calls, model)
    assert len(replayed) == 4, [c.folder.name for c in replayed]  # 2 ranks x calls 2 and 4
    assert all(c.identical for c in replayed), [d.where() for c in replayed for d in c.differences]
    assert cli_main(["verify", "replay", str(calls), "--model", str(model)]) == 0
    assert "4 of 4 recorded calls bit-identical" in capsys.readouterr().out


def test_a_mutated_host_record_fails(recorded, tmp_path, capsys):
    model, calls = recorded
    mutated = tmp_path / "mutated"
    shutil.copytree(calls, mutated)
    call = sorted(p for p in mutated.iterdir() if p.is_dir())[-1]
    output = next(Path(call).glob("output.*.npy"))
    y = np.load(output)
    y[0, 0] = np.nextafter(y[0, 0], np.inf)  # one ulp: what a host reading stale memory would show
    np.save(output, y)
    replayed = replay(mutated, model)
    assert [c.identical for c in replayed].count(False) == 1
    assert cli_main(["verify", "replay", str(mutated), "--model", str(model)]) == 1
    assert "DIFFERS" in capsys.readouterr().out
