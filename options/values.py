"""Typing of the values a YAML config gives: each is checked against the option it sets."""
from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import Any, Dict

from utils.config_file import load_flat_config
from utils.errors import ConfigError
from utils.opts import parse_bool, parse_structured


def declared_actions(parser: argparse.ArgumentParser) -> Dict[str, argparse.Action]:
    """Every declared option of ``parser`` by its dotted key (``help`` left out)."""
    return {a.dest: a for a in parser._actions if a.option_strings and a.dest != "help"}


def _type_name(kind: Any) -> str:
    if kind is None:
        return "str"
    return getattr(kind, "__name__", str(kind))


def _to_int(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value)
    raise ValueError(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    return float(value)


def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError(value)
    return str(value)


_CONVERTERS = {int: _to_int, float: _to_float, str: _to_str, None: _to_str, parse_bool: parse_bool}


def _convert_scalar(key: str, value: Any, kind: Any, source: str) -> Any:
    if kind is parse_structured:
        return value
    try:
        if isinstance(value, (list, dict)):
            raise ValueError(value)
        return _CONVERTERS.get(kind, kind)(value)
    except (TypeError, ValueError, argparse.ArgumentTypeError):
        raise ConfigError(f"{source}: key '{key}' has value {value!r} of the wrong type "
                          f"(expected {_type_name(kind)})") from None


def _check_choice(key: str, value: Any, action: argparse.Action, source: str) -> None:
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(str(c) for c in action.choices)
        raise ConfigError(f"{source}: key '{key}' has value {value!r}; choose one of: {choices}")


def convert_yaml_value(key: str, value: Any, action: argparse.Action, source: str) -> Any:
    """``value`` as the option ``action`` types it; a :class:`ConfigError` naming ``key`` otherwise."""
    if value is None:
        return None
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        return _convert_scalar(key, value, parse_bool, source)
    if action.nargs in ("+", "*") or isinstance(action.nargs, int):
        items = value if isinstance(value, (list, tuple)) else [value]
        converted = [_convert_scalar(key, v, action.type, source) for v in items]
        for item in converted:
            _check_choice(key, item, action, source)
        return converted
    converted = _convert_scalar(key, value, action.type, source)
    _check_choice(key, converted, action, source)
    return converted


def config_defaults(parser: argparse.ArgumentParser, path: Path) -> Dict[str, Any]:
    """The options a YAML file sets, checked against the parser: unknown keys and bad values raise."""
    actions = declared_actions(parser)
    values = {}
    for key, value in load_flat_config(path).items():
        if key == "common.config_file":
            raise ConfigError(f"config file {path}: key 'common.config_file' cannot be set inside a config file")
        action = actions.get(key)
        if action is None:
            message = f"config file {path}: unknown key '{key}'"
            close = difflib.get_close_matches(key, actions, n=1, cutoff=0.6)
            if close:
                message += f" (did you mean '{close[0]}'?)"
            raise ConfigError(message)
        values[key] = convert_yaml_value(key, value, action, f"config file {path}")
    return values
