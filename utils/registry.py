"""One registry mechanism for every pluggable kind (models, layers, losses, optimizers, ...).

A registry maps names, as they appear in YAML configs and on the command line, to classes or
functions. Each registered class may declare its own command-line arguments in a classmethod
``add_arguments(parser)``; :meth:`Registry.add_arguments` collects them, so the parser is
assembled from the registries rather than from a central list.
"""
from __future__ import annotations

import argparse
import difflib
from typing import Any, Callable, Dict, Iterator, List, Optional

from utils.errors import ConfigError


class Registry:
    """Name -> class (or function) table for one pluggable kind.

    >>> ACTIVATIONS = Registry("activation")
    >>> @ACTIVATIONS.register("relu")
    ... class ReLU: ...
    >>> ACTIVATIONS.get("relu") is ReLU
    True
    """

    def __init__(self, kind: str, option: Optional[str] = None) -> None:
        # `kind` names the registry in messages; `option` is the config key that selects from it
        self.kind = kind
        self.option = option
        self._entries: Dict[str, Any] = {}

    def register(self, name: str, *aliases: str) -> Callable[[Any], Any]:
        """Decorator registering an object under ``name`` (and optional aliases)."""

        def decorator(obj: Any) -> Any:
            for key in (name, *aliases):
                if key in self._entries:
                    raise ValueError(f"{self.kind} '{key}' is registered twice")
                self._entries[key] = obj
            return obj

        return decorator

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def names(self) -> List[str]:
        return list(self._entries)

    def get(self, name: Optional[str]) -> Any:
        """The object registered as ``name``; a :class:`ConfigError` naming the choices if none is."""
        if name in self._entries:
            return self._entries[name]
        where = f" (option {self.option})" if self.option else ""
        message = f"unknown {self.kind} {name!r}{where}; choose one of: {', '.join(sorted(self._entries))}"
        if isinstance(name, str):
            close = difflib.get_close_matches(name, self._entries, n=1, cutoff=0.6)
            if close:
                message += f" (did you mean {close[0]!r}?)"
        raise ConfigError(message)

    def build(self, name: Optional[str], *args: Any, **kwargs: Any) -> Any:
        return self.get(name)(*args, **kwargs)

    def add_arguments(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        """Let every registered class add the arguments it declares (each class once).

        A class that inherits ``add_arguments`` from a registered class adds nothing (its parent
        did); one that inherits it from an unregistered base calls it, for the base may declare
        options from class attributes.
        """
        registered = {id(obj) for obj in self._entries.values()}
        seen = set()
        for obj in self._entries.values():
            if id(obj) in seen or not isinstance(obj, type) or not hasattr(obj, "add_arguments"):
                continue
            seen.add(id(obj))
            owner = next(k for k in obj.__mro__ if "add_arguments" in vars(k))
            if owner is obj or id(owner) not in registered:
                obj.add_arguments(parser)
        return parser
