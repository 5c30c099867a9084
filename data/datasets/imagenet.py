"""ImageNet-style classification folders: one sub-folder of images per class."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

import torch
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

from data.datasets.base import BaseImageDataset, read_image
from data.datasets.registry import DATASET_REGISTRY
from data.transforms import CenterCrop, Compose, RandomResizedCrop, Resize, ToTensor, classification_training_transforms
from utils.errors import DataError


@DATASET_REGISTRY.register("imagenet")
class ImageNetDataset(BaseImageDataset):
    """``root/<class>/<image>``; classes are numbered in sorted folder-name order.

    Training: random resized crop, the configured augmentations (RandAugment last), tensor,
    random erasing. Validation and evaluation: resize the shorter side to ``crop + 32``, centre
    crop ``crop``, tensor.
    """

    def __init__(self, opts: Any, is_training: bool = True, is_evaluation: bool = False) -> None:
        super().__init__(opts, is_training, is_evaluation)
        root = self.check_root()
        try:
            self.classes, self.class_to_idx = find_classes(str(root))
            self.samples: List[Tuple[str, int]] = make_dataset(str(root), self.class_to_idx, IMG_EXTENSIONS)
        except FileNotFoundError as exc:
            raise DataError(f"{self.root_option}: {root}: {exc}") from None
        if not self.samples:
            raise DataError(f"{self.root_option}: no images found under {root}")
        self.use_rrc = bool(getattr(opts, "image_augmentation.random_resized_crop.enable"))

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def training_transforms(self, size: Tuple[int, int]) -> Compose:
        first = RandomResizedCrop(self.opts, size) if self.use_rrc else Resize(self.opts, size)
        return classification_training_transforms(self.opts, first, size)

    def validation_transforms(self, size: Tuple[int, int]) -> Compose:
        side = min(size)
        return Compose([Resize(self.opts, side + 32), CenterCrop(self.opts, side), ToTensor(self.opts)])

    def get_sample(self, index: int, size: Tuple[int, int]) -> Dict[str, Any]:
        path, target = self.samples[index]
        transform = self.training_transforms(size) if self.is_training else self.validation_transforms(size)
        data = transform({"image": read_image(path)})
        return {"image": data["image"], "label": torch.tensor(target, dtype=torch.long), "sample_id": index}
