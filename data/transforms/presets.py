"""Transform chains that more than one caller shares."""
from __future__ import annotations

from typing import Any

from data.transforms.base import Compose
from data.transforms.geometric import CenterCrop, Resize
from data.transforms.tensor import ToTensor, ToUint8Tensor


def classification_eval_transform(opts: Any, side: int, uint8: bool = False) -> Compose:
    """Classification validation and inference: the shorter side resized to ``side + 32``, the
    central ``side x side`` kept, then a tensor (the ImageNet validation protocol of the reference):
    the float model input, or with ``uint8`` the bytes that a dataset's batches carry."""
    return Compose([Resize(opts, side + 32), CenterCrop(opts, side), (ToUint8Tensor if uint8 else ToTensor)(opts)])
