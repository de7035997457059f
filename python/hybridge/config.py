"""Training configuration: defaults, YAML file, command-line overrides; unknown keys are errors."""

from __future__ import annotations

import copy

import yaml

DEFAULTS = {
    "data": None,  # directory with YYYY-MM/*.mli.*.nc and .mlo. pairs
    "case": None,  # file prefix (E3SM-MMF in ClimSim); None accepts any
    "variables": "v1",  # v1, v2, or a .yaml/.py variable-set spec
    "dt": 1200.0,  # s, model time step: ptend = (mlo.state - mli.state) / dt
    "val_fraction": 0.2,  # last fraction of the time steps held out for validation
    "val_from": None,  # or: every step on/after this date (YYYY-MM-DD) is validation
    "stride": 1,  # use every stride-th time step
    "normalization": "climsim",  # climsim (reference statistics) or data (one streaming pass)
    "model": "mlp",  # mlp, resmlp, unet1d, reslstm
    "model_options": {},  # keyword arguments of the model class
    "batch_size": 1024,
    "epochs": 10,
    "lr": 1.0e-3,
    "weight_decay": 0.0,
    "lr_schedule": "cosine",  # cosine, step, plateau, none
    "lr_step_epochs": 5,  # step schedule: decay every this many epochs
    "lr_gamma": 0.5,  # step and plateau schedules: decay factor
    "patience": 5,  # early stopping: epochs without validation improvement
    "seed": 0,
    "device": "auto",  # auto, cpu, cuda, cuda:N
    "num_workers": 0,  # DataLoader worker processes per training process
    "shuffle_files": 4,  # files mixed in one shuffle buffer
    "cache_dir": None,  # .npy cache of the preprocessed pairs
    "out": "run",  # output directory: last.pt, best.pt, history.csv
    "progress": True,  # tqdm progress bars
    "physics": {},  # physics options recorded for export (hybridge.physics)
}


class ConfigError(ValueError):
    """A configuration key or value is not valid."""


def _check_keys(d: dict, where: str) -> None:
    unknown = [k for k in d if k not in DEFAULTS]
    if unknown:
        raise ConfigError(
            f"{where}: unknown config key {unknown[0]!r}; known keys: " + ", ".join(sorted(DEFAULTS))
        )


def load_config(path=None, overrides: dict | None = None) -> dict:
    cfg = copy.deepcopy(DEFAULTS)
    if path:
        try:
            with open(path) as f:
                loaded = yaml.safe_load(f) or {}
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys")
        _check_keys(loaded, str(path))
        cfg.update(loaded)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    _check_keys(overrides, "command line")
    cfg.update(overrides)
    if not cfg["data"]:
        raise ConfigError("no data directory: set 'data' in the config file or pass --data")
    return cfg


def parse_set(items: list[str]) -> dict:
    """``["epochs=3", "model_options={hidden: [64]}"]`` -> dict, values read as YAML."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out
