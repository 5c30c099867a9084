"""Helpers for declaring and reading options, imported by every component.

Options carry dotted names (``getattr(opts, "model.classification.edge.scale")``). Each
registered class declares the options it reads with :func:`add_options`; the ``options`` package
assembles the parser from them and returns an :class:`Options` namespace. An option has one
default, its declaration's: components read it with plain ``getattr(opts, key)``, and a key that no
component declares raises :class:`~utils.errors.UndeclaredOptionError` naming the key and the reader.
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Dict, Sequence, Tuple

import yaml

from utils.errors import ConfigError, UndeclaredOptionError

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", "none"}


class Options(argparse.Namespace):
    """The parsed options: an ``argparse.Namespace`` whose missing keys are an error, not ``None``."""

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        frame = sys._getframe(1)
        reader = f"{frame.f_code.co_filename}:{frame.f_lineno} ({frame.f_code.co_name})"
        raise UndeclaredOptionError(f"option '{key}' is read by {reader} but no component declares it")


def non_negative(opts: argparse.Namespace, key: str) -> float:
    """The option ``key`` as a float; a negative or non-finite value (a learning rate, a decay) is a
    :class:`ConfigError` naming the key."""
    value = float(getattr(opts, key))
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{key} must be a number >= 0, got {value:g}")
    return value


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


parse_bool.__name__ = "bool"


def parse_structured(value: Any) -> Any:
    """A value written as YAML on the command line (``"[[2, 3], [2]]"``); YAML files pass it as is."""
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            raise argparse.ArgumentTypeError(f"cannot read {value!r} as a YAML value") from None
    return value


parse_structured.__name__ = "yaml value"


def add_flag(group: Any, name: str, default: bool = False, help: str = "") -> None:
    """A boolean option: ``--name`` or ``--name true`` sets it, ``--name false`` clears it."""
    group.add_argument(name, type=parse_bool, nargs="?", const=True, default=default, metavar="BOOL",
                       help=f"{help} (default: {str(default).lower()})")


OptionRow = Tuple[Any, ...]


def add_options(group: Any, prefix: str, rows: Sequence[OptionRow]) -> None:
    """Declare ``<prefix>.<name>`` for each row ``(name, default, help)`` or
    ``(name, default, help, settings)``, ``settings`` being further ``add_argument`` keywords.

    Unless ``settings`` names a ``type``, the default decides: a bool makes a flag
    (:func:`add_flag`), a list a ``nargs="+"`` option of its first item's type, an int, float or
    str that type. A ``None`` default needs an explicit type."""
    for row in rows:
        name, default, help_text = row[:3]
        settings: Dict[str, Any] = dict(row[3]) if len(row) > 3 else {}
        option = f"{prefix}.{name}"
        if "type" not in settings and isinstance(default, bool):
            add_flag(group, option, default=default, help=help_text)
            continue
        if "type" not in settings:
            if default is None:
                raise TypeError(f"{option}: a None default needs an explicit type")
            if isinstance(default, list):
                settings.setdefault("nargs", "+")
                settings["type"] = type(default[0])
            else:
                settings["type"] = type(default)
        group.add_argument(option, default=default, help=help_text, **settings)


def opts_to_dict(opts: argparse.Namespace) -> Dict[str, Any]:
    return {k: v for k, v in sorted(vars(opts).items())}
