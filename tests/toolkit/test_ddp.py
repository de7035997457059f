"""Data-parallel training under torchrun: 2 CPU processes with gloo."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from hybridge.checkpoint import load_checkpoint


def test_torchrun_two_cpu_processes(climsim_data, tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1", HYBRIDGE_DDP_BACKEND="gloo")
    cmd = [
        torchrun,
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "hybridge.cli",
        "train",
        "--data",
        str(climsim_data),
        "--out",
        str(tmp_path),
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--batch-size",
        "256",
        "--no-progress",
        "--set",
        "model_options={hidden: [32]}",
        "--set",
        "val_fraction=0.25",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "on 2 process(es)" in res.stdout
    assert res.stdout.count("trained epochs 1..2 of 2") == 1  # only rank 0 reports and writes
    assert res.stdout.count("epoch 2/2:") == 1
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["epoch"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values())
