"""ImageNet-style classification folders: one sub-folder of images per class."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

from data.datasets.base import BaseImageDataset, read_image
from data.datasets.registry import DATASET_REGISTRY
from data.transforms import Compose, RandomResizedCrop, Resize, classification_training_transforms
from data.transforms.presets import classification_eval_transform
from utils import logger
from utils.errors import DataError


CLASS_LIST_FILE = "classes.json"


def training_classes(opts: Any) -> Optional[List[str]]:
    """The class names of the training set, in label order: the folders of ``dataset.root_train``,
    else the ``classes.json`` beside ``model.classification.pretrained``; ``None`` when neither is
    there."""
    train_root = getattr(opts, "dataset.root_train")
    if train_root and Path(train_root).expanduser().is_dir():
        try:
            return find_classes(str(Path(train_root).expanduser()))[0]
        except FileNotFoundError:
            pass
    weights = getattr(opts, "model.classification.pretrained")
    listed = Path(weights).expanduser().parent / CLASS_LIST_FILE if weights else None
    if listed is not None and listed.is_file():
        try:
            names = json.loads(listed.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read the class list {listed}: {exc}") from None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise DataError(f"{listed} must hold a JSON list of class names")
        return names
    return None


@DATASET_REGISTRY.register("imagenet")
class ImageNetDataset(BaseImageDataset):
    """``root/<class>/<image>``, classes numbered in the sorted folder-name order of the training set.

    Validation and evaluation folders are mapped to the training classes by name, so a split that
    lacks a class keeps every other label; the training classes come from ``dataset.root_train``
    or, without it, from the ``classes.json`` a training run leaves next to its checkpoints (beside
    ``model.classification.pretrained``). A class the training set does not have is an error.

    Training: random resized crop (``image_augmentation.random_resized_crop.enable``, else a
    resize), the configured augmentations (RandAugment last), tensor, random erasing. Validation
    and evaluation: resize the shorter side to ``crop + 32``, centre crop ``crop``, tensor.
    """

    def __init__(self, opts: Any, is_training: bool = True, is_evaluation: bool = False) -> None:
        super().__init__(opts, is_training, is_evaluation)
        root = self.check_root()
        try:
            own_classes, _ = find_classes(str(root))
        except FileNotFoundError as exc:
            raise DataError(f"{self.root_option}: {root}: {exc}") from None
        self.classes = own_classes if is_training else (training_classes(opts) or self._own(own_classes, root))
        unknown = sorted(set(own_classes) - set(self.classes))
        if unknown:
            raise DataError(f"{self.root_option}: {root} has classes the training set lacks: "
                            f"{', '.join(unknown[:5])}" + (" ..." if len(unknown) > 5 else ""))
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        try:
            self.samples: List[Tuple[str, int]] = make_dataset(
                str(root), {name: self.class_to_idx[name] for name in own_classes}, IMG_EXTENSIONS)
        except FileNotFoundError as exc:
            raise DataError(f"{self.root_option}: {root}: {exc}") from None
        if not self.samples:
            raise DataError(f"{self.root_option}: no images found under {root}")
        self.use_rrc = bool(getattr(opts, "image_augmentation.random_resized_crop.enable"))

    @staticmethod
    def _own(classes: List[str], root: Path) -> List[str]:
        logger.warning(f"class labels follow the folders of {root}: without dataset.root_train or a "
                       f"{CLASS_LIST_FILE} beside the weights, they match training only if its folders were the same")
        return classes

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def training_transforms(self, size: Tuple[int, int]) -> Compose:
        first = RandomResizedCrop(self.opts, size) if self.use_rrc else Resize(self.opts, size)
        return classification_training_transforms(self.opts, first, size)

    def validation_transforms(self, size: Tuple[int, int]) -> Compose:
        return classification_eval_transform(self.opts, min(size))

    def get_sample(self, index: int, size: Tuple[int, int]) -> Dict[str, Any]:
        path, target = self.samples[index]
        transform = self.training_transforms(size) if self.is_training else self.validation_transforms(size)
        data = transform({"image": read_image(path)})
        return {"image": data["image"], "label": torch.tensor(target, dtype=torch.long), "sample_id": index}
