"""The catalogue of the options that the registries declare, kept in ``options/catalogue.json``.

The models, datasets, transforms, losses, optimizers and metrics declare their options next to
their code; collecting them imports those packages, torch with them (seconds). The catalogue
records what the declarations produce (each group's title and description, each option's flag,
type, default, choices, nargs, metavar and help), so that ``--help``, ``--print-config`` and
option and config errors answer without importing them. A run imports the registries anyway: it
checks the catalogue against them and parses with the registries' own parser when the catalogue
is out of date. ``python -m options.write_catalogue`` rewrites it; a test fails until it is current.
"""
from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from utils.opts import parse_bool, parse_structured

CATALOGUE = Path(__file__).with_name("catalogue.json")
REGENERATE = "python -m options.write_catalogue"
TYPES: Dict[Optional[str], Any] = {None: None, "str": str, "int": int, "float": float,
                                   parse_bool.__name__: parse_bool, parse_structured.__name__: parse_structured}
_FIELDS = ("default", "const", "nargs", "choices", "metavar", "help")


def arguments_components(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options declared by the registries of data, models, losses, optimizers and metrics (the
    declarations themselves: this imports every package below ``options``)."""
    from cvnets import arguments_model
    from data import arguments_data
    from loss_fn import arguments_loss
    from metrics import arguments_stats
    from optim import arguments_optim

    for add in (arguments_data, arguments_model, arguments_loss, arguments_optim, arguments_stats):
        add(parser)
    return parser


def _record(action: argparse.Action) -> Dict[str, Any]:
    """One declared option as plain JSON data; a TypeError for what the catalogue cannot hold
    exactly (the parser built from it must be the declarations' parser)."""
    kind = getattr(action.type, "__name__", action.type)
    if type(action) is not argparse._StoreAction or kind not in TYPES or TYPES[kind] is not action.type:
        raise TypeError(f"option {action.option_strings}: the catalogue holds options stored with a type of "
                        f"{sorted(k for k in TYPES if k)}, not {type(action).__name__} of type {action.type!r}")
    record = {"flags": list(action.option_strings), "dest": action.dest, "type": kind}
    record.update({field: getattr(action, field) for field in _FIELDS})
    if record["choices"] is not None:
        record["choices"] = list(record["choices"])
    if json.loads(json.dumps(record)) != record:
        raise TypeError(f"option {action.option_strings}: its default, const or metavar is not plain JSON data "
                        f"(a list, not a tuple): {record}")
    return record


def declared_groups(add: Callable[[argparse.ArgumentParser], Any] = arguments_components) -> List[Dict[str, Any]]:
    """The option groups that ``add`` declares, as the catalogue stores them."""
    parser = argparse.ArgumentParser(add_help=False)
    builtin = list(parser._action_groups)
    add(parser)
    loose = [a.option_strings for group in builtin for a in group._group_actions]
    if loose:
        raise TypeError(f"options declared outside a group: {loose}")
    return [{"title": group.title, "description": group.description,
             "options": [_record(action) for action in group._group_actions]}
            for group in parser._action_groups if group not in builtin]


@functools.lru_cache(maxsize=1)
def stored_groups() -> List[Dict[str, Any]]:
    """The groups recorded in ``options/catalogue.json``."""
    return json.loads(CATALOGUE.read_text(encoding="utf-8"))["groups"]


def add_catalogued_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Declare on ``parser`` the registries' options as the catalogue records them."""
    for stored in stored_groups():
        group = parser.add_argument_group(stored["title"], stored["description"])
        for option in stored["options"]:
            settings = {field: option[field] for field in _FIELDS}
            group.add_argument(*option["flags"], dest=option["dest"], type=TYPES[option["type"]], **settings)
    return parser


@functools.lru_cache(maxsize=1)
def catalogue_is_current() -> bool:
    """Whether the catalogue records what the registries declare now (imports them)."""
    return declared_groups() == stored_groups()
