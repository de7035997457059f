"""The model registry: every architecture ``hybridge train`` and ``hybridge export`` can build.

A model family is a class (or any callable) called as::

    factory(n_in: int, n_out: int, *, inputs, outputs, **model_options) -> torch.nn.Module

``n_in``/``n_out`` are the lengths of the flat input and target vectors, ``inputs`` and
``outputs`` the variable set's ``((name, size), ...)`` entries in vector order (profiles
have ``size = nlev``, scalars 1). The module maps normalized ``x (batch, n_in)`` to
normalized ``y (batch, n_out)`` (float32) and must compile with ``torch.jit.script`` to be
exported. ``model_options`` are the keyword arguments a training config gives in
``model_options``; options not in the factory's signature are refused before training.

Three ways to add one, all seen by the CLI's ``train`` and ``export``:

- ``hybridge.register_model("mynet", MyNet)`` (or ``@hybridge.register_model("mynet")``)
  in a module or ``.py`` file named in the config key ``plugins``; the checkpoint records
  the plugins, so ``export`` imports them again;
- an installed package's entry point in the group ``hybridge.models``
  (``mynet = "mypkg.nets:MyNet"``), found by name when first asked for;
- from Python, calling :func:`register_model` before :func:`hybridge.training.loop.train`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path

from torch import nn

from ..data.variables import VariableSet

ENTRY_POINT_GROUP = "hybridge.models"


class ModelError(ValueError):
    """An unknown model, a bad model option, or a plugin that cannot be imported."""


@dataclasses.dataclass
class ModelFamily:
    """A registered architecture: its factory and the documentation of its options."""

    name: str
    factory: Callable[..., nn.Module]
    options: dict[str, str]  # option -> what it means (with the default from the signature)
    source: str  # "hybridge", a plugin path or an entry point

    def defaults(self) -> dict:
        """The factory's keyword options and their defaults (``inputs``/``outputs`` excluded)."""
        params = inspect.signature(self.factory).parameters
        return {
            k: p.default
            for k, p in params.items()
            if k not in ("n_in", "n_out", "inputs", "outputs", "self")
            and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }


_FAMILIES: dict[str, ModelFamily] = {}  # the registry, filled by register_model


def register_model(name: str, factory=None, *, options: dict[str, str] | None = None, replace: bool = False):
    """Register ``factory`` (a model class) under ``name``; use as a call or a decorator.

    ``options`` documents each model option (``{"hidden": "widths of the hidden layers"}``);
    without it the class attribute ``OPTIONS`` is used when present. Registering a name
    twice is an error unless ``replace=True``."""
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ModelError(f"model name {name!r} must be letters, digits, '_' or '-'")

    def add(f):
        if not callable(f):
            raise ModelError(f"model {name!r}: {f!r} is not a class or callable")
        if name in _FAMILIES and not replace and _FAMILIES[name].factory is not f:
            raise ModelError(
                f"model {name!r} is already registered ({_FAMILIES[name].source}); pass replace=True"
            )
        docs = dict(options if options is not None else getattr(f, "OPTIONS", {}))
        _FAMILIES[name] = ModelFamily(name, f, docs, getattr(f, "__module__", "") or "")
        return f

    return add if factory is None else add(factory)


def _from_entry_point(name: str) -> ModelFamily | None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                factory = ep.load()
            except Exception as e:  # any import failure of a third-party package
                raise ModelError(f"model {name!r}: entry point {ep.value} cannot be loaded ({e})") from None
            register_model(name, factory)
            _FAMILIES[name].source = f"entry point {ep.value}"
            return _FAMILIES[name]
    return None


def model_family(name: str) -> ModelFamily:
    """The registered family ``name`` (entry points are searched when it is not registered)."""
    family = _FAMILIES.get(name) or _from_entry_point(name)
    if family is None:
        raise ModelError(
            f"unknown model {name!r}; registered: {', '.join(sorted(_FAMILIES))} (a model of your own: "
            "register it in a module named in 'plugins', or through an entry point; docs/toolkit_models.md)"
        )
    return family


def registered_models() -> dict[str, ModelFamily]:
    """Every registered family (entry points included), by name."""
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _FAMILIES:
            _from_entry_point(ep.name)
    return dict(sorted(_FAMILIES.items()))


def build_model(name: str, varset: VariableSet, options: dict | None = None) -> nn.Module:
    """The network of family ``name`` for ``varset`` with ``options``; an option the family
    does not take, or a value it refuses, is a :class:`ModelError` naming it."""
    family = model_family(name)
    options = dict(options or {})
    known = family.defaults()
    takes_any = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(family.factory).parameters.values())
    unknown = [k for k in options if k not in known]
    if unknown and not takes_any:
        listed = ", ".join(f"{k} (default {v!r})" for k, v in known.items()) or "none"
        raise ModelError(f"model {name!r} has no option {unknown[0]!r}; its options: {listed}")
    try:
        return family.factory(
            varset.n_in, varset.n_out, inputs=varset.inputs, outputs=varset.outputs, **options
        )
    except (TypeError, ValueError) as e:
        raise ModelError(f"model {name!r} with options {options}: {e}") from None


def load_plugins(plugins: list[str]) -> list[str]:
    """Import each plugin (a module name, or a ``.py`` file run as a module) so that it can
    register models; returns the plugins as a checkpoint records them (files absolute)."""
    resolved = []
    for p in plugins:
        if p.endswith(".py"):
            path = Path(p).resolve()
            if not path.is_file():
                raise ModelError(f"plugin file not found: {p}")
            resolved.append(str(path))
            module_name = "hybridge_plugin_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
            if module_name in sys.modules:
                continue
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module  # TorchScript finds the classes' source through it
            try:
                spec.loader.exec_module(module)
            except Exception as e:  # the user's code: any error, named with its file
                del sys.modules[module_name]
                raise ModelError(f"plugin {p} failed to import: {type(e).__name__}: {e}") from None
        else:
            try:
                importlib.import_module(p)
            except Exception as e:  # the user's code: any error, named with its module
                raise ModelError(f"plugin module {p!r} failed to import: {type(e).__name__}: {e}") from None
            resolved.append(p)
    return resolved


def describe_models() -> str:
    """Every registered family with its options, defaults and their meaning (``--list-models``)."""
    lines = []
    for name, f in registered_models().items():
        doc = (inspect.getdoc(f.factory) or "").split("\n")[0]
        lines.append(f"{name}: {doc} [{f.source}]")
        for opt, default in f.defaults().items():
            lines.append(f"    {opt} = {default!r}" + (f": {f.options[opt]}" if opt in f.options else ""))
    return "\n".join(lines)
