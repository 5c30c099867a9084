"""Placing files into a prepared layout: copied, moved or linked."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from utils.io import write_text

METHODS = ("copy", "move", "symlink", "hardlink")


def place_file(source: Path, target: Path, method: str) -> bool:
    """Put ``source`` at ``target`` by ``method`` (one of :data:`METHODS`); returns False (and
    does nothing) when ``target`` already exists, so that a preparation can be run again."""
    if target.exists() or target.is_symlink():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    if method == "copy":
        shutil.copy2(source, target)
    elif method == "move":
        shutil.move(str(source), str(target))
    elif method == "symlink":
        os.symlink(Path(source).resolve(), target)
    elif method == "hardlink":
        os.link(source, target)
    else:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    return True


def write_lines(path: Path, lines: list) -> Path:
    """Write ``lines`` to ``path`` (one per line), replacing it atomically."""
    return write_text("".join(f"{line}\n" for line in lines), path)
