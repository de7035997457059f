"""Fixtures: small ClimSim-format datasets on the real grid (hybridge.data.synthetic)."""

import shutil

import pytest
import torch

from hybridge.cli import main as cli_main
from hybridge.data.synthetic import write_climsim_dataset

# One intra-op thread: deterministic timings and no spinning threads on a shared 2-core machine.
torch.set_num_threads(1)

N_STEPS = 24  # 24 time steps of 384 columns: 20 for training, 4 held out for validation


@pytest.fixture(scope="session")
def climsim_data(tmp_path_factory):
    """24 steps whose targets are a known nonlinear function of the inputs (read-only: copy to modify)."""
    root = tmp_path_factory.mktemp("climsim")
    write_climsim_dataset(root, n_steps=N_STEPS, start="0001-02-28-79200", seed=1)
    return root


@pytest.fixture
def data_copy(climsim_data, tmp_path):
    """A private copy of a few steps, for tests that damage files."""
    dst = tmp_path / "data"
    shutil.copytree(climsim_data, dst)
    return dst


@pytest.fixture(scope="session")
def trained(climsim_data, tmp_path_factory):
    """A small v1 MLP trained for 2 epochs: run dir with best.pt/last.pt."""
    out = tmp_path_factory.mktemp("run")
    rc = cli_main(
        [
            "train",
            "--data",
            str(climsim_data),
            "--out",
            str(out),
            "--epochs",
            "2",
            "--batch-size",
            "256",
            "--no-progress",
            "--set",
            "model_options={hidden: [64, 64]}",
            "--set",
            "normalization=data",
        ]
    )
    assert rc == 0
    return out


@pytest.fixture(scope="session")
def exported(trained, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.pt"
    assert cli_main(["export", str(trained / "best.pt"), "-o", str(path)]) == 0
    return path
