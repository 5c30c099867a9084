"""Transform chains that more than one caller shares."""
from __future__ import annotations

from typing import Any

from data.transforms.base import Compose
from data.transforms.geometric import CenterCrop, Resize
from data.transforms.tensor import ToTensor, ToUint8Tensor
from utils.errors import ConfigError


def classification_eval_transform(opts: Any, side: int, uint8: bool = False) -> Compose:
    """Classification validation and inference: the shorter side resized to ``side`` plus
    ``image_augmentation.center_crop.margin`` (32 by default, the reference's ImageNet validation
    protocol), the central ``side x side`` kept, then a tensor: the float model input, or with
    ``uint8`` the bytes that a dataset's batches carry."""
    margin = int(getattr(opts, "image_augmentation.center_crop.margin"))
    if margin < 0:
        raise ConfigError(f"image_augmentation.center_crop.margin must be at least 0, got {margin}")
    return Compose([Resize(opts, side + margin), CenterCrop(opts, side), (ToUint8Tensor if uint8 else ToTensor)(opts)])
