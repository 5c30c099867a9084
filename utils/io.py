"""Writing files atomically, cleaning up after writers that were killed, and naming files in messages.

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
from typing import Any, BinaryIO, Callable, Iterable, List, Union

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


def shown(path: Union[str, bytes, os.PathLike]) -> str:
    """``path`` as text for messages: bytes that are not UTF-8 escaped (``bad\\xff.png``)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def print_written(paths: Iterable[os.PathLike]) -> None:
    """Print the files a command wrote, one a line under ``files written:`` (nothing when none)."""
    paths = list(paths)
    if paths:
        print("files written:\n" + "\n".join(f"  {shown(path)}" for path in paths), flush=True)
