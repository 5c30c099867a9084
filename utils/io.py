"""Writing files atomically, cleaning up after writers that were killed, and finding images.

Every file that replaces another is written to a temporary file in the same folder
(``.<name>.tmp<pid>``), flushed to disk and renamed over its target: a reader sees the old file or
the new one, never a part. A writer killed before the rename leaves its temporary file behind;
:func:`remove_partial_files` recognises those whose process is gone.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, BinaryIO, Callable, List

from torchvision.datasets.folder import IMG_EXTENSIONS

from utils.errors import DataError

_PARTIAL = re.compile(r"^\..+\.tmp(\d+)$")


def temporary_path(path: os.PathLike) -> Path:
    """The temporary name this process writes ``path`` under before renaming it."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def atomic_write(path: os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Replace ``path`` by what ``write(handle)`` writes: into a temporary file in the same folder,
    flushed and fsynced, then renamed over ``path``. On any failure the temporary file is removed
    and ``path`` keeps its earlier content.

    Args:
        path: the file to write (its folder is created when missing).
        write: writes the content into the binary handle it is given.

    Returns:
        ``path`` as a :class:`Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_bytes(data: bytes, path: os.PathLike) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda handle: handle.write(data))


def write_text(text: str, path: os.PathLike) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(text.encode("utf-8"), path)


def write_json(data: Any, path: os.PathLike, sort_keys: bool = True) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    return write_text(json.dumps(data, indent=2, sort_keys=sort_keys) + "\n", path)


def atomic_save(obj: Any, path: os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` atomically."""
    import torch

    return atomic_write(path, lambda handle: torch.save(obj, handle))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_partial_files(folder: os.PathLike) -> List[str]:
    """Delete the temporary files in ``folder`` whose writer (the process named in their name) is
    gone; returns their names."""
    removed = []
    for path in Path(folder).iterdir():
        match = _PARTIAL.match(path.name)
        if match and path.is_file() and not _alive(int(match.group(1))):
            path.unlink()
            removed.append(path.name)
    return removed


def image_files(path: os.PathLike, option: str) -> List[Path]:
    """The image named by ``path`` (single_image mode), or the images of the folder ``path``
    (image_folder mode), sorted by name."""
    path = Path(path).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{option}: no such file or folder: {path}")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)
    if not files:
        raise DataError(f"{option}: no images ({', '.join(IMG_EXTENSIONS)}) in {path}")
    return files


def require_path(value: Any, option: str, mode: str) -> str:
    if not value:
        raise DataError(f"{option} is required in the {mode} mode")
    return str(value)
