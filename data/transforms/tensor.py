"""Conversion of samples to tensors."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from data.transforms.base import TRANSFORM_REGISTRY, Sample


@TRANSFORM_REGISTRY.register("to_tensor")
class ToTensor:
    """Image: H x W x C uint8 -> C x H x W float in [0, 1], channel order unchanged (BGR, as read);
    no mean/std normalization, as the released models were trained. Mask: int64 tensor."""

    def __init__(self, opts: Any = None) -> None:
        pass

    def __call__(self, data: Sample) -> Sample:
        image = np.ascontiguousarray(data["image"].transpose(2, 0, 1))
        data["image"] = torch.from_numpy(image).float().div_(255.0)
        if data.get("mask") is not None:
            data["mask"] = torch.from_numpy(np.ascontiguousarray(data["mask"])).long()
        return data

    def __repr__(self) -> str:
        return "ToTensor()"
