"""Listing dataset folders: hidden entries (names starting with '.', such as ``.ipynb_checkpoints``
or macOS's ``._*`` files) are never classes nor samples."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from torchvision.datasets.folder import IMG_EXTENSIONS

from utils.errors import DataError


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def class_folders(root: Path, option: str) -> List[str]:
    """The sorted names of the visible sub-folders of ``root`` (the classes of an ImageNet-style
    folder); a :class:`DataError` naming ``option`` when there is none."""
    try:
        names = sorted(entry.name for entry in os.scandir(root) if entry.is_dir() and not is_hidden(entry.name))
    except OSError as exc:
        raise DataError(f"{option}: cannot list {root}: {exc.strerror or exc}") from None
    if not names:
        raise DataError(f"{option}: {root} has no class folders (one sub-folder of images per class)")
    return names


def folder_samples(root: Path, labels: Dict[str, int], option: str,
                   extensions: Sequence[str] = IMG_EXTENSIONS) -> List[Tuple[str, int]]:
    """``(path, label)`` of every visible image under each class folder of ``labels`` (sub-folders
    included, links followed), class by class in ``labels``' name order, files sorted by path. A
    class folder without images is an error naming it."""
    samples: List[Tuple[str, int]] = []
    empty = []
    for name in sorted(labels):
        found = images_under(root / name, extensions)
        if not found:
            empty.append(name)
        samples += [(path, labels[name]) for path in found]
    if empty:
        raise DataError(f"{option}: no images ({', '.join(extensions)}) in the class folders "
                        f"{', '.join(empty[:5])}{' ...' if len(empty) > 5 else ''} of {root}")
    return samples


def images_under(folder: Path, extensions: Sequence[str] = IMG_EXTENSIONS) -> List[str]:
    """The visible files with an image extension under ``folder``, its visible sub-folders
    included, sorted as torchvision's ``ImageFolder`` sorts them."""
    found = []
    for directory, subfolders, files in os.walk(folder, followlinks=True):
        subfolders[:] = [name for name in subfolders if not is_hidden(name)]  # not walked into
        found += [(directory, name) for name in files
                  if not is_hidden(name) and name.lower().endswith(tuple(extensions))]
    return [os.path.join(directory, name) for directory, name in sorted(found)]


def images_in(folder: Path, option: str, extensions: Sequence[str] = IMG_EXTENSIONS) -> List[Path]:
    """The visible image files directly in ``folder``, sorted by name; an error naming ``option``
    when there is none."""
    files = sorted(path for path in folder.iterdir()
                   if not is_hidden(path.name) and path.is_file() and path.suffix.lower() in extensions)
    if not files:
        raise DataError(f"{option}: no images ({', '.join(extensions)}) in {folder}")
    return files
