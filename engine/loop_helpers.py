"""What the training and evaluation loops do with every batch (move it to the device, call the
model, detach its outputs) and how they write durations."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from utils.distributed import unwrap


def forward_model(model: nn.Module, images: Any, target: Any) -> Any:
    """``model(images, target)`` for a model that computes its own losses from the targets
    (``takes_targets``, e.g. Mask R-CNN), else ``model(images)``."""
    if unwrap(model).takes_targets:
        return model(images, target)
    return model(images)


def to_device(value: Any, device: torch.device, non_blocking: bool = True) -> Any:
    """Move tensors, possibly nested in dicts, lists or tuples, to ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=non_blocking)
    if isinstance(value, dict):
        return {k: to_device(v, device, non_blocking) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(v, device, non_blocking) for v in value)
    return value


def detach_float(value: Any) -> Any:
    """Detached float32 copies of the tensors in a (possibly nested) model output."""
    if isinstance(value, torch.Tensor):
        return value.detach().float()
    if isinstance(value, (tuple, list)):
        return type(value)(detach_float(v) for v in value)
    if isinstance(value, dict):
        return {k: detach_float(v) for k, v in value.items()}
    return value


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}"

