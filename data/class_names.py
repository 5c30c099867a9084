"""Readable class names for predictions, from what is known: the training classes (what the
dataset finds at ``dataset.root_train``, else the ``classes.json`` beside the weights), else the
evaluated split's own classes or those the configured dataset defines. Where nothing is known, the
names of ImageNet-1k (1000 classes) and COCO (81 labels) are a guess from the class count, said so
in the log; otherwise the labels are shown as indices."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, List, Optional

from utils import logger

IMAGENET_CLASS_COUNT = 1000
_WORDNET_ID = re.compile(r"n\d{8}$")

# contiguous detection labels: 0 is the background, 1..80 the COCO categories in id order
COCO_CLASSES = [
    "background", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep",
    "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush"]


def imagenet_class_names() -> List[str]:
    """The 1000 ImageNet-1k class names in the standard index order (the sorted WordNet IDs)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def _training_names(opts: Any, n_classes: int) -> Optional[List[str]]:
    """The training classes (:func:`data.datasets.labels.training_classes`) of the configured
    dataset, when they are ``n_classes``."""
    from data.datasets import DATASET_REGISTRY
    from data.datasets.labels import training_classes

    found = training_classes(opts, DATASET_REGISTRY.get(getattr(opts, "dataset.name")))
    return found[0] if found and len(found[0]) == n_classes else None


def _guess(names: List[str], what: str, task: str, n_classes: int) -> List[str]:
    logger.warning(f"class names: none known for the {n_classes} outputs (no training set at dataset.root_train, "
                   f"no classes.json beside model.{task}.pretrained); guessing {what}'s names from the class count")
    return names


def indices(n_classes: int) -> List[str]:
    return [str(i) for i in range(n_classes)]


def classification_class_names(opts: Any, n_classes: int) -> List[str]:
    """Names for a classifier's ``n_classes`` outputs: the training classes, else the class
    folders of ``dataset.root_val`` when they are as many; ImageNet's names for 1000 folders
    named by WordNet ID, and (a guess, logged) for 1000 classes without names; the indices otherwise."""
    from data.datasets.listing import class_folders
    from utils.errors import DataError

    names = _training_names(opts, n_classes)
    root = getattr(opts, "dataset.root_val")
    if names is None and root and Path(root).is_dir():
        try:
            names = class_folders(Path(root), "dataset.root_val")
        except DataError:
            names = None
    if names and len(names) == n_classes:
        if n_classes == IMAGENET_CLASS_COUNT and all(_WORDNET_ID.match(n) for n in names):
            return imagenet_class_names()
        return names
    if n_classes == IMAGENET_CLASS_COUNT:
        return _guess(imagenet_class_names(), "ImageNet-1k", "classification", n_classes)
    return indices(n_classes)


def detection_class_names(opts: Any, n_classes: int) -> List[str]:
    """Names for a detector's labels (0: background): the training classes, else the categories
    of the validation annotations when they are as many; COCO's (a guess, logged) for 81 labels;
    the indices otherwise."""
    from data.datasets.coco_annotations import file_category_names

    names = _training_names(opts, n_classes)
    root = getattr(opts, "dataset.root_val")
    annotations = Path(root or "") / "annotations" / "instances_val2017.json"
    if names is None and root and annotations.is_file():
        names = ["background"] + file_category_names(annotations)
    if names and len(names) == n_classes:
        return names
    if n_classes == len(COCO_CLASSES):
        return _guess(COCO_CLASSES, "COCO", "detection", n_classes)
    return indices(n_classes)


def segmentation_class_names(opts: Any, n_classes: int) -> List[str]:
    """Names for a segmentation model's ``n_classes`` labels: the training classes, else those
    the configured dataset defines (PASCAL VOC's 21 for ``dataset.name: pascal``); the indices otherwise."""
    from data.datasets import DATASET_REGISTRY

    names = _training_names(opts, n_classes)
    if names is None:
        root = Path(getattr(opts, "dataset.root_val") or ".").expanduser()
        names = DATASET_REGISTRY.get(getattr(opts, "dataset.name")).classes_at(root, opts)
    return list(names) if names and len(names) == n_classes else indices(n_classes)
