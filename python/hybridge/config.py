"""Training configuration: defaults, YAML file, command-line overrides, every value checked.

Unknown keys and bad values are :class:`ConfigError` naming the key, the value and what
would be accepted, raised before any work starts. Every key is described in
``docs/toolkit_config.md``.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import yaml

from .data.calendar import DateError, parse_date
from .data.files import DataError, check_case

DEFAULTS = {
    "data": None,  # directory with YYYY-MM/*.mli.*.nc and .mlo. pairs
    "case": None,  # file prefix (E3SM-MMF in ClimSim); None accepts any
    "variables": "v1",  # v1, v2, or a .yaml/.py variable-set spec
    "grid": None,  # grid file (area, lat, hyai, hybi); None: ClimSim's for 384 columns
    "dt": 1200.0,  # s, model time step: ptend = (mlo.state - mli.state) / dt
    "val_fraction": 0.2,  # last fraction of the time steps held out for validation
    "val_from": None,  # or: every step on/after this date (YYYY-MM-DD) is validation
    "stride": 1,  # use every stride-th time step
    "normalization": "auto",  # auto, climsim (reference statistics) or data (one streaming pass)
    "model": "mlp",  # a registered model: mlp, resmlp, unet1d, reslstm or your own
    "model_options": {},  # keyword arguments of the model class
    "plugins": [],  # modules or .py files imported first (they register models)
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
    "out": "run",  # run folder: config.yaml, last.pt, best.pt, history.csv, training_curve.png
    "progress": True,  # progress bars (only on an interactive terminal)
    "tensorboard": "auto",  # auto (when the package is installed), true, false
    "physics": {},  # physics options recorded for export (hybridge.physics)
}


class ConfigError(ValueError):
    """A configuration key or value is not valid."""


class _Loader(yaml.SafeLoader):
    """YAML without timestamps: ``val_from: 0001-02-30`` stays text, so the date check names
    it (PyYAML would fail inside its own date constructor with no key named)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def yaml_value(text: str):
    """One YAML value as the config reads it (dates stay text)."""
    return yaml.load(text, Loader=_Loader)


def _integer(key, v, low, high=None):
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{key} must be an integer, got {v!r}")
    if v < low or (high is not None and v > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(f"{key} must be an integer {bound}, got {v}")
    return v


def _real(key, v, low=None, high=None, low_open=False, high_open=False):
    # YAML 1.1 reads 1e-3 (no dot) as a string: accept any text float() reads as a number
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            raise ConfigError(f"{key} must be a number, got {v!r}") from None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"{key} must be a finite number, got {v!r}")
    v = float(v)
    if low is not None and (v < low or (low_open and v == low)):
        raise ConfigError(f"{key} must be {'>' if low_open else '>='} {low:g}, got {v:g}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ConfigError(f"{key} must be {'<' if high_open else '<='} {high:g}, got {v:g}")
    return v


def _choice(key, v, choices):
    if v not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(map(str, choices))}; got {v!r}")
    return v


def _boolean(key, v):
    if not isinstance(v, bool):
        raise ConfigError(f"{key} must be true or false, got {v!r}")
    return v


def _text(key, v, optional=True):
    if v is None and optional:
        return v
    if not isinstance(v, (str, Path)) or not str(v):
        raise ConfigError(f"{key} must be a path or name, got {v!r}")
    return str(v)


def _date(key, v):
    if v is None:
        return v
    try:
        parse_date(v, key)
    except DateError as e:
        raise ConfigError(str(e)) from None
    return str(v)


def _device(key, v):
    import torch

    v = str(v)
    if v in ("auto", "cpu"):
        return v
    if v == "cuda" or (v.startswith("cuda:") and v[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"{key} {v!r}: this torch ({torch.__version__}) sees no CUDA device; use cpu or auto"
            )
        if ":" in v and int(v[5:]) >= torch.cuda.device_count():
            raise ConfigError(f"{key} {v!r}: only {torch.cuda.device_count()} CUDA device(s) visible")
        return v
    raise ConfigError(f"{key} must be auto, cpu, cuda or cuda:N, got {v!r}")


def _mapping(key, v):
    if not isinstance(v, dict):
        raise ConfigError(f"{key} must be a mapping (e.g. {{hidden: [256, 256]}}), got {v!r}")
    return v


def _plugins(key, v):
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(p, str) and p for p in v):
        raise ConfigError(f"{key} must be a list of module names or .py files, got {v!r}")
    return v


def _case(key, v):
    try:
        check_case(v)
    except DataError as e:
        raise ConfigError(str(e)) from None
    return v


def _tensorboard(key, v):
    return _choice(key, v, ("auto", True, False))


CHECKS = {
    "data": lambda k, v: _text(k, v, optional=False),
    "case": _case,
    "variables": lambda k, v: v if isinstance(v, dict) else _text(k, v, optional=False),
    "grid": _text,
    "dt": lambda k, v: _real(k, v, 0.0, low_open=True),
    "val_fraction": lambda k, v: _real(k, v, 0.0, 1.0, high_open=True),
    "val_from": _date,
    "stride": lambda k, v: _integer(k, v, 1),
    "normalization": lambda k, v: _choice(k, v, ("auto", "climsim", "data")),
    "model": lambda k, v: _text(k, v, optional=False),
    "model_options": _mapping,
    "plugins": _plugins,
    "batch_size": lambda k, v: _integer(k, v, 1),
    "epochs": lambda k, v: _integer(k, v, 1),
    "lr": lambda k, v: _real(k, v, 0.0, low_open=True),
    "weight_decay": lambda k, v: _real(k, v, 0.0),
    "lr_schedule": lambda k, v: _choice(k, v, ("cosine", "step", "plateau", "none")),
    "lr_step_epochs": lambda k, v: _integer(k, v, 1),
    "lr_gamma": lambda k, v: _real(k, v, 0.0, 1.0, low_open=True),
    "patience": lambda k, v: _integer(k, v, 1),
    "seed": lambda k, v: _integer(k, v, 0, 2**63 - 1),
    "device": _device,
    "num_workers": lambda k, v: _integer(k, v, 0, 256),
    "shuffle_files": lambda k, v: _integer(k, v, 1),
    "cache_dir": _text,
    "out": lambda k, v: _text(k, v, optional=False),
    "progress": _boolean,
    "tensorboard": _tensorboard,
    "physics": _mapping,
}
assert set(CHECKS) == set(DEFAULTS)


def _check_keys(d: dict, where: str) -> None:
    unknown = [k for k in d if k not in DEFAULTS]
    if unknown:
        raise ConfigError(
            f"{where}: unknown config key {unknown[0]!r}; known keys: " + ", ".join(sorted(DEFAULTS))
        )


def read_yaml(path) -> dict:
    """A YAML mapping from a file, with errors that name the file and the line."""
    try:
        with open(path) as f:
            loaded = yaml_value(f.read())
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(e).split())})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys")
    return loaded


def validate(cfg: dict) -> dict:
    """Check every value (types, ranges, choices, dates, the device); returns ``cfg`` with
    numbers normalized (``lr: 1e-3`` read as text by YAML becomes a float)."""
    _check_keys(cfg, "configuration")
    if not cfg.get("data"):
        raise ConfigError("no data directory: set 'data' in the config file or pass --data")
    out = dict(cfg)
    for key, check in CHECKS.items():
        out[key] = check(key, cfg[key])
    return out


def load_config(path=None, overrides: dict | None = None, base: dict | None = None) -> dict:
    """``base`` (defaults, or a run's saved config when resuming), then the YAML file at
    ``path``, then ``overrides`` (None values are ignored); validated."""
    cfg = copy.deepcopy(DEFAULTS)
    if base:
        cfg.update({k: v for k, v in base.items() if k in DEFAULTS})
    if path:
        loaded = read_yaml(path)
        _check_keys(loaded, str(path))
        cfg.update(loaded)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    _check_keys(overrides, "command line")
    cfg.update(overrides)
    return validate(cfg)


def parse_set(items: list[str]) -> dict:
    """``["epochs=3", "model_options={hidden: [64]}"]`` -> dict, values read as YAML."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = yaml_value(value)
        except yaml.YAMLError as e:
            raise ConfigError(
                f"--set {key.strip()}: value is not valid YAML ({' '.join(str(e).split())})"
            ) from None
    return out


def to_yaml(cfg: dict) -> str:
    """The resolved configuration as the ``config.yaml`` of a run folder."""
    head = "# The resolved configuration of this run (defaults, file and flags merged).\n"
    return head + yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None)
