"""Console logging that only the main process of a distributed run writes, also kept in a file
(``train.log`` of the run) once :func:`add_file` names one."""
from __future__ import annotations

import logging
import os
import sys

_LOGGER = logging.getLogger("parcnet")
_ENABLED = True


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time of the call (redirections included)."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: D401
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


_FORMATTER = logging.Formatter("%(asctime)s - %(levelname)-7s - %(message)s", "%Y-%m-%d %H:%M:%S")


def _handler() -> logging.Handler:
    handler = _StdoutHandler()
    handler.setFormatter(_FORMATTER)
    return handler


if not _LOGGER.handlers:
    _LOGGER.addHandler(_handler())
    _LOGGER.setLevel(logging.INFO)
    _LOGGER.propagate = False


def add_file(path: os.PathLike) -> None:
    """Also append everything logged from now on to ``path`` (one file at a time)."""
    remove_file()
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(_FORMATTER)
    _LOGGER.addHandler(handler)


def remove_file() -> None:
    for handler in list(_LOGGER.handlers):
        if isinstance(handler, logging.FileHandler):
            _LOGGER.removeHandler(handler)
            handler.close()


def set_enabled(enabled: bool) -> None:
    """Silence (False) or restore (True) this process's log output, e.g. on ranks other than 0."""
    global _ENABLED
    _ENABLED = enabled


def is_enabled() -> bool:
    return _ENABLED


def log(message: str) -> None:
    if _ENABLED:
        _LOGGER.info(message)


info = log


def warning(message: str) -> None:
    if _ENABLED:
        _LOGGER.warning(message)


def debug(message: str) -> None:
    if _ENABLED:
        _LOGGER.debug(message)
