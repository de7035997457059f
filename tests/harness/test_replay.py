"""Record and replay (issue 17): calls recorded by the engine (option record=DIR) rerun in
Python bit for bit through `hybridge verify replay`; a mutated record fails, as it must; a
record replayed against another model is refused, naming both checksums."""

import numpy as np
import pytest

from hybridge.cli import main as cli_main
from hybridge.core import Model
from hybridge.manifest import read_manifest
from hybridge.testing import models
from hybridge.verify.replay import ReplayError, replay

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A recurrent model run 4 times with chunk=3 over 7 columns, calls 2 and 4 recorded; and
    a seeded stochastic model, every call recorded."""
    d = tmp_path_factory.mktemp("replay")
    gru, noisy = d / "gru.pt", d / "noisy.pt"
    models.make_recurrent(gru)
    models.make_stochastic(noisy)
    with Model(gru, options={"chunk": 3, "record": d / "gru_calls", "record_calls": "2,4"}) as m:
        for step in range(4):
            m.run({"x": models.example_inputs(read_manifest(gru), 7, seed=step)["x"]})
    with Model(noisy, options={"seed": 11, "record": d / "noisy_calls", "record_every": 1}) as m:
        for step in range(2):
            m.set_option("step", 100 + step)
            m.run({"x": np.ones((5, 4))})
    return d, gru, noisy


def test_recorded_calls_replay_bit_for_bit(recorded, capsys):
    d, _, _ = recorded
    calls = replay(d / "gru_calls")
    assert [c.folder.name.split(".")[-1] for c in calls] == ["call2", "call4"]
    assert all(c.identical for c in calls), [d.where() for c in calls for d in c.differences]
    assert {d.tensor for d in calls[0].differences} == {"output y", "state h"}
    assert cli_main(["verify", "replay", str(d / "gru_calls")]) == 0
    assert "2 of 2 recorded calls bit-identical" in capsys.readouterr().out


def test_a_seeded_stochastic_model_replays_its_draws(recorded):
    d, _, _ = recorded
    calls = replay(d / "noisy_calls")
    assert len(calls) == 2 and all(c.identical for c in calls)


def test_a_mutated_record_fails_naming_what_differs(recorded, tmp_path, capsys):
    import shutil

    d, _, _ = recorded
    mutated = tmp_path / "mutated"
    shutil.copytree(d / "gru_calls", mutated)
    call = sorted(mutated.iterdir())[0]
    y = np.load(call / "output.y.npy")
    y[5, 2] = np.nextafter(y[5, 2], np.inf)  # one ulp on one value: a host that read stale memory
    np.save(call / "output.y.npy", y)
    calls = replay(mutated)
    assert not calls[0].identical and calls[1].identical
    diff = next(d for d in calls[0].differences if not d.equal)
    assert diff.tensor == "output y" and diff.column == 5 and diff.variable == "y[2]" and diff.max_ulps >= 1
    assert cli_main(["verify", "replay", str(mutated)]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS" in out and "1 of 2 recorded calls bit-identical" in out


def test_replay_against_another_model_is_refused(recorded, tmp_path):
    d, _, _ = recorded
    other = tmp_path / "other.pt"
    models.make_recurrent(other, seed=5)
    with pytest.raises(ReplayError, match=r"recorded with a model of checksum .* proves nothing"):
        replay(d / "gru_calls", other)


def test_replay_of_a_folder_without_records_says_so(tmp_path):
    with pytest.raises(ReplayError, match="no recorded calls"):
        replay(tmp_path)
    assert cli_main(["verify", "replay", str(tmp_path / "missing")]) != 0
