"""Files a command writes where its user looks (an export, evaluation results, charts, prepared
data sets): one that exists is replaced only when the user says so, and what a later check may
reject is written under a temporary name and moved into place only once the check passed.

A command calls :func:`refuse_to_replace` before it does any work, and writes inside
:func:`staged`: the staged files go to a temporary folder beside their targets
(``.<name>.tmp<pid>``, on the same file system) and are renamed over the targets when the work
ends well; when it fails, the folder is removed and the targets keep what they held.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, List, Sequence

from utils.errors import ConfigError, OutputExistsError
from utils.io import shown, temporary_path


def refuse_to_replace(paths: Iterable[os.PathLike], option: str, alternative: str = "") -> None:
    """Stop with one line when one of ``paths`` exists.

    Args:
        paths: the files and folders the command would write.
        option: the dotted option that lets the command replace them (``export.overwrite``).
        alternative: another way on, appended to the message (``", or choose another --common.run-label"``).

    Raises:
        OutputExistsError: naming what exists and ``--<option>``.
    """
    existing = [Path(path) for path in paths if os.path.lexists(path)]
    if not existing:
        return
    one = len(existing) == 1
    names = ", ".join(shown(path) for path in existing[:3])
    if len(existing) > 3:
        names += f" and {len(existing) - 3} more"
    raise OutputExistsError(f"{names} {'exists' if one else 'exist'}: pass --{option} to replace "
                            f"{'it' if one else 'them'}{alternative}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def replace_path(source: Path, target: Path) -> None:
    """Rename ``source`` (a file or a folder) to ``target``, replacing what is there: a file by a file
    in one atomic rename; a folder (or a file by a folder) by moving it aside first and removing it
    once ``source`` is in its place."""
    source, target = Path(source), Path(target)
    if os.path.lexists(target) and (source.is_dir() or (target.is_dir() and not target.is_symlink())):
        aside = temporary_path(target.with_name(target.name + ".replaced"))
        os.rename(target, aside)
        os.rename(source, target)
        _remove(aside)
    else:
        os.replace(source, target)


@contextmanager
def staged(targets: Sequence[os.PathLike]) -> Iterator[List[Path]]:
    """The paths to write ``targets`` under until the work is done and checked.

    Args:
        targets: files or folders in one folder, with different names.

    Yields:
        The staged path of each target, in a temporary folder beside them. When the block ends
        normally each is renamed over its target, in order (:func:`replace_path`); when it raises,
        the temporary folder is removed and nothing is renamed. A folder that cannot be written
        into is a :class:`~utils.errors.ConfigError` naming the first target.
    """
    targets = [Path(target) for target in targets]
    folder = temporary_path(targets[0])
    try:
        if os.path.lexists(folder):  # left by an earlier process of this number, which is gone
            _remove(folder)
        folder.mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(f"cannot write {shown(targets[0])}: {exc.strerror or exc}") from None
    try:
        paths = [folder / target.name for target in targets]
        yield paths
        for path, target in zip(paths, targets):
            replace_path(path, target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
