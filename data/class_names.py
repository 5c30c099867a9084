"""Readable class names for predictions: the folder names of a classification dataset, ImageNet's
names (torchvision's list, shipped with its weight metadata and read offline), COCO's and PASCAL VOC's."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, List, Optional

from data.datasets.pascal import VOC_CLASSES

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


def folder_class_names(root: str) -> Optional[List[str]]:
    """The class folder names of an ImageNet-style dataset at ``root`` (sorted, as the dataset
    numbers them), or ``None`` when ``root`` is not such a folder."""
    from torchvision.datasets.folder import find_classes

    if not root or not Path(root).is_dir():
        return None
    try:
        names, _ = find_classes(str(root))
    except FileNotFoundError:
        return None
    return names


def indices(n_classes: int) -> List[str]:
    return [str(i) for i in range(n_classes)]


def classification_class_names(opts: Any, n_classes: int) -> List[str]:
    """Names for a classifier's ``n_classes`` outputs: the training classes (the folders of
    ``dataset.root_train``, else the ``classes.json`` a training run saved beside the weights), else
    the class folders of ``dataset.root_val``, when they are as many, unless they are ImageNet's
    WordNet IDs; ImageNet's names for 1000 classes; the indices otherwise."""
    from data.datasets.imagenet import training_classes

    names = training_classes(opts) or folder_class_names(getattr(opts, "dataset.root_val"))
    if names and len(names) == n_classes:
        if not (n_classes == IMAGENET_CLASS_COUNT and all(_WORDNET_ID.match(n) for n in names)):
            return names
    return imagenet_class_names() if n_classes == IMAGENET_CLASS_COUNT else indices(n_classes)


def detection_class_names(opts: Any, n_classes: int) -> List[str]:
    """Names for a detector's labels (0: background): the categories of the validation
    annotations when they are as many, COCO's for 81 labels, the indices otherwise."""
    from data.datasets.coco import load_coco

    root = getattr(opts, "dataset.root_val")
    annotations = Path(root or "") / "annotations" / "instances_val2017.json"
    if root and annotations.is_file():
        coco = load_coco(annotations)
        names = ["background"] + [coco.cats[c]["name"] for c in sorted(coco.getCatIds())]
        if len(names) == n_classes:
            return names
    return COCO_CLASSES if n_classes == len(COCO_CLASSES) else indices(n_classes)


def segmentation_class_names(n_classes: int) -> List[str]:
    """PASCAL VOC's names for 21 classes (0: background), the indices otherwise."""
    return list(VOC_CLASSES) if n_classes == len(VOC_CLASSES) else indices(n_classes)
