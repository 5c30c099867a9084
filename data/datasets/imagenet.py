"""ImageNet-style classification folders: one sub-folder of images per class."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Collection, Dict, List, Optional, Tuple

import torch

from data.datasets.base import BaseImageDataset
from data.datasets.image_io import read_image
from data.datasets.labels import evaluated_classes, labels_by_name
from data.datasets.listing import class_folders, folder_samples
from data.datasets.registry import DATASET_REGISTRY
from data.transforms import Compose, Resize, build_transform, classification_training_transforms
from data.transforms.presets import classification_eval_transform
from utils.errors import DataError


@DATASET_REGISTRY.register("imagenet")
class ImageNetDataset(BaseImageDataset):
    """``root/<class>/<image>``, classes numbered in the sorted folder-name order of the training set.

    Folders whose names start with '.' are not classes. Validation and evaluation folders are
    mapped to the training classes by name (:mod:`data.datasets.labels`), so a split that lacks a
    class keeps every other label; a class the training set does not have is an error.

    Training: random resized crop (``image_augmentation.random_resized_crop.enable``, else a
    resize), the configured augmentations (RandAugment last), tensor, random erasing. Validation
    and evaluation: resize the shorter side to ``crop + 32``, centre crop ``crop``, tensor. The
    tensors are uint8 (see :class:`~data.datasets.base.BaseImageDataset`).
    """

    def __init__(self, opts: Any, is_training: bool = True, is_evaluation: bool = False) -> None:
        super().__init__(opts, is_training, is_evaluation)
        root = self.check_root()
        own_classes = class_folders(root, self.root_option)
        self.classes = own_classes if is_training else evaluated_classes(opts, type(self), own_classes,
                                                                          f"the folders of {root}")
        labels = labels_by_name(own_classes, self.classes, f"{self.root_option}: {root}")
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        self.samples: List[Tuple[str, int]] = folder_samples(root, dict(zip(own_classes, labels)), self.root_option)
        self.use_rrc = bool(getattr(opts, "image_augmentation.random_resized_crop.enable"))

    @classmethod
    def classes_at(cls, root: Path, opts: Any) -> Optional[List[str]]:
        """The class folders of a training set at ``root`` (``None`` when it has none)."""
        try:
            return class_folders(root, "dataset.root_train")
        except DataError:
            return None

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def training_transforms(self, size: Tuple[int, int]) -> Compose:
        first = build_transform("random_resized_crop", self.opts, size) if self.use_rrc else Resize(self.opts, size)
        return classification_training_transforms(self.opts, first, size)

    def validation_transforms(self, size: Tuple[int, int]) -> Compose:
        return classification_eval_transform(self.opts, min(size), uint8=True)

    def transforms(self, size: Tuple[int, int]) -> Compose:
        """The chain of this split at ``size`` (built once per process)."""
        build = self.training_transforms if self.is_training else self.validation_transforms
        return self.cached(size, lambda: build(size))

    def sample_draws(self, size: Tuple[int, int]) -> Collection[str]:
        return self.transforms(size).draws

    def get_sample(self, index: int, size: Tuple[int, int]) -> Dict[str, Any]:
        path, target = self.samples[index]
        data = self.transforms(size)({"image": read_image(path)})
        sample = {"image": data["image"], "label": torch.tensor(target, dtype=torch.long), "sample_id": index}
        if "erase" in data:
            sample["erase"] = data["erase"]
        return sample
