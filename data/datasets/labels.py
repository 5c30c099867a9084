"""Labels matched by class name between a training set and the splits evaluated against it.

A training set numbers its classes (``classes``: the names in label order). A validation or
evaluation split takes the training set's labels for the classes it names, whatever its own
numbering, so a split with fewer classes, or other ids, keeps every label right. The training
classes come from ``dataset.root_train`` (what the dataset finds there) or, without it, from the
``classes.json`` a training run writes beside its checkpoints (beside ``model.<task>.pretrained``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

from utils import logger
from utils.errors import DataError

CLASS_LIST_FILE = "classes.json"


def saved_class_list(opts: Any) -> Optional[Tuple[List[str], Path]]:
    """The class names (label order) in the ``classes.json`` beside ``model.<task>.pretrained``
    (``task``: ``dataset.category``) and that file; ``None`` when there is none."""
    task = getattr(opts, "dataset.category")
    weights = getattr(opts, f"model.{task}.pretrained")
    listed = Path(weights).expanduser().parent / CLASS_LIST_FILE if weights else None
    if listed is None or not listed.is_file():
        return None
    try:
        names = json.loads(listed.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the class list {listed}: {exc}") from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataError(f"{listed} must hold a JSON list of class names")
    return names, listed


def training_classes(opts: Any, dataset_type: Any) -> Optional[Tuple[List[str], str]]:
    """The class names of the training set in label order, and where they come from.

    Args:
        opts: the options (``dataset.root_train``, ``model.<task>.pretrained``).
        dataset_type: the dataset class; its ``classes_at(root, opts)`` gives the classes of a
            training set at ``root`` (``None`` when there is none there).
    Returns:
        ``(names, source)``, or ``None`` when neither the training set nor a saved class list is there.
    """
    root = getattr(opts, "dataset.root_train")
    if root and Path(root).expanduser().is_dir():
        names = dataset_type.classes_at(Path(root).expanduser(), opts)
        if names:
            return list(names), f"the training set {root}"
    saved = saved_class_list(opts)
    return (saved[0], str(saved[1])) if saved else None


def evaluated_classes(opts: Any, dataset_type: Any, own: List[str], where: str) -> List[str]:
    """The classes (label order) of a validation or evaluation split whose own classes are
    ``own``: the training set's (:func:`training_classes`), else ``own`` with a warning that the
    labels then match training only if its classes were the same."""
    found = training_classes(opts, dataset_type)
    if found is not None:
        return found[0]
    task = getattr(opts, "dataset.category")
    logger.warning(f"class labels follow {where}: without dataset.root_train or a {CLASS_LIST_FILE} beside "
                   f"model.{task}.pretrained, they match training only if its classes were the same")
    return list(own)


def labels_by_name(names: Sequence[str], classes: Sequence[str], where: str) -> List[int]:
    """The label of each of ``names``: its index in ``classes`` (the training set's).

    Raises:
        DataError: naming ``where`` and the names ``classes`` lacks.
    """
    index = {name: label for label, name in reversed(list(enumerate(classes)))}
    unknown = [name for name in names if name not in index]
    if unknown:
        raise DataError(f"{where} has classes the training set lacks: {', '.join(unknown[:5])}"
                        + (" ..." if len(unknown) > 5 else ""))
    return [index[name] for name in names]
