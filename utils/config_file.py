"""Reading YAML configuration files into flat ``{"a.b.c": value}`` mappings."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import yaml

from utils.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"


def resolve_config_path(name: str) -> Path:
    """The config file ``name`` as given, else the same relative path under ``config/``."""
    path = Path(name).expanduser()
    candidates = [path]
    if not path.is_absolute():
        relative = Path(*path.parts[1:]) if path.parts[:1] == ("config",) else path
        candidates.append(CONFIG_DIR / relative)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    folder = next((c for c in candidates if c.is_dir()), None)
    if folder is not None:
        where = "" if folder == path else f" ({folder})"
        raise ConfigError(f"config file {name}{where} is a folder, not a YAML file")
    tried = " nor ".join(str(c) for c in candidates)
    raise ConfigError(f"config file not found: {name} (neither {tried} exists)")


def _check_duplicate_keys(node: Any, path: str, source: Path) -> None:
    """Raise for a key given twice in one mapping of the YAML node tree (plain YAML silently keeps
    the last value), naming its dotted path and both lines."""
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, path, source)
    if not isinstance(node, yaml.MappingNode):
        return
    seen: Dict[str, int] = {}
    for key_node, value_node in node.value:
        name = f"{path}.{key_node.value}" if path else str(key_node.value)
        line = key_node.start_mark.line + 1
        if name in seen:
            raise ConfigError(f"config file {source}: key '{name}' is given twice (lines {seen[name]} and {line})")
        seen[name] = line
        _check_duplicate_keys(value_node, name, source)


def flatten(mapping: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and scalars are leaves."""
    flat: Dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            if not value:
                raise ConfigError(f"key '{name}' holds an empty mapping")
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def load_flat_config(path: Path) -> Dict[str, Any]:
    """Parse a YAML config file and flatten it; any problem is a ConfigError naming the file."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ConfigError(f"config file {path} is not UTF-8 text: byte 0x{exc.object[exc.start]:02x} on line {line} "
                          f"cannot be decoded; save the file as UTF-8") from None
    try:
        _check_duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader), "", path)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"config file {path} is not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of options, not a {type(data).__name__}")
    return flatten(data)


def to_nested(flat: Dict[str, Any]) -> Dict[str, Any]:
    """Inverse of :func:`flatten`, used to save the resolved configuration as YAML."""
    nested: Dict[str, Any] = {}
    for key, value in flat.items():
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def dump_yaml(flat: Dict[str, Any]) -> str:
    """The flat options ``flat`` as nested YAML text."""
    return yaml.safe_dump(to_nested(flat), sort_keys=True, default_flow_style=False)
