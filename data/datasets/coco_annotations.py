"""COCO annotation files, checked before pycocotools indexes them: what pycocotools would merge,
drop or crash on is refused in one line naming the file."""
from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Tuple

from utils.errors import DataError

# the keys every entry of each list needs
REQUIRED = {"images": ("id", "file_name"), "annotations": ("id", "image_id", "category_id", "bbox"),
            "categories": ("id", "name")}

_SINGULAR = {"images": "image", "annotations": "annotation", "categories": "category"}

_CATEGORY_NAMES: Dict[Tuple[str, int, int], List[str]] = {}  # (file, size, mtime) -> names in id order


def _key(path: Path) -> Tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def check_coco_document(document: Any, path: Path) -> None:
    """A :class:`DataError` naming ``path`` when ``document`` lacks a key of :data:`REQUIRED`,
    gives an image, annotation or category id twice, two categories the same name, or a box that
    is not four numbers."""
    if not isinstance(document, dict):
        raise DataError(f"{path} is not a COCO annotation file: it holds a {type(document).__name__}, not a mapping")
    for key, fields in REQUIRED.items():
        if key not in document:
            raise DataError(f"{path} has no '{key}' list (a COCO annotation file needs 'images', 'annotations' "
                            f"and 'categories')")
        entries = document[key]
        if not isinstance(entries, list):
            raise DataError(f"{path}: '{key}' must be a list, not a {type(entries).__name__}")
        for number, entry in enumerate(entries):
            missing = [field for field in fields if not isinstance(entry, dict) or field not in entry]
            if missing:
                raise DataError(f"{path}: {key}[{number}] has no '{missing[0]}'")
            if not isinstance(entry["id"], (int, str)):
                raise DataError(f"{path}: {key}[{number}] has the id {entry['id']!r}; an id is a number")
            if key == "categories" and not isinstance(entry["name"], str):
                raise DataError(f"{path}: {key}[{number}] has the name {entry['name']!r}; a name is a string")
        for field in ("id", "name") if key == "categories" else ("id",):
            counts = Counter(entry[field] for entry in entries)
            repeated = next((value for value, count in counts.items() if count > 1), None)
            if repeated is not None:
                raise DataError(f"{path}: {_SINGULAR[key]} {field} {repeated!r} is given {counts[repeated]} times; "
                                f"each {_SINGULAR[key]} needs its own")
    for ann in document["annotations"]:
        box = ann["bbox"]
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)):
            raise DataError(f"{path}: annotation {ann['id']!r} has the bbox {str(box)[:60]}; a bbox is [x, y, width, "
                            f"height]")


def load_coco(annotation_file: Path) -> Any:
    """A pycocotools ``COCO`` index of ``annotation_file``, checked by :func:`check_coco_document`.

    Raises:
        DataError: naming the file, when it is missing, not JSON or not a valid COCO document.
    """
    from pycocotools.coco import COCO

    annotation_file = Path(annotation_file)
    if not annotation_file.is_file():
        raise DataError(f"COCO annotations not found: {annotation_file}")
    try:
        with open(annotation_file, "rb") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise DataError(f"cannot read COCO annotations {annotation_file}: {exc}") from None
    check_coco_document(document, annotation_file)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = document
        coco.createIndex()
    _CATEGORY_NAMES[_key(annotation_file)] = category_names(coco)
    return coco


def category_names(coco: Any) -> List[str]:
    """The category names of a ``COCO`` index in id order (the order of the contiguous labels)."""
    return [coco.cats[c]["name"] for c in sorted(coco.getCatIds())]


def file_category_names(annotation_file: Path) -> List[str]:
    """:func:`category_names` of a file, from memory when this process has loaded it unchanged."""
    key = _key(annotation_file)
    return list(_CATEGORY_NAMES[key]) if key in _CATEGORY_NAMES else category_names(load_coco(annotation_file))
