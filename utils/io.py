"""Writing result files."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, List

from torchvision.datasets.folder import IMG_EXTENSIONS

from utils.errors import DataError


def write_json(data: Any, path: os.PathLike) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


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
