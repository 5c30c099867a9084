"""What the training and evaluation loops do with every batch (move it to the device, make its
model inputs, call the model, detach its outputs) and how they write durations."""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from data.transforms import DeviceNormaliser, InputConvention, erase_batch
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


class BatchInputs:
    """The model inputs of a batch on the device: its images moved there, scaled and normalised as
    the input convention says (the loaders ship uint8 images) and, where the batch carries random
    erasing rectangles, erased; then, as asked, in channels_last memory format (:meth:`layout`).

    Args:
        opts: the options (their input convention); ``None`` takes float images only.
        channels_last: give image batches the channels_last memory format.
    """

    def __init__(self, opts: Any, channels_last: bool = False) -> None:
        self.normalise: Optional[DeviceNormaliser] = None
        if opts is not None:
            self.normalise = DeviceNormaliser(InputConvention.from_opts(opts))
        self.channels_last = channels_last

    def __call__(self, batch: dict, device: torch.device) -> Any:
        """``batch["image"]`` (a tensor, or a list of differently sized ones) as model inputs on
        ``device``, before :meth:`layout`."""
        images = to_device(batch["image"], device)
        if self.normalise is not None:
            images = self.normalise(images)
        elif _holds_uint8(images):
            raise ValueError("uint8 images need the options of their input convention (opts)")
        if batch.get("erase") is not None:
            erase_batch(images, batch["erase"])
        return images

    def layout(self, images: Any) -> Any:
        """``images`` in channels_last memory format when asked (image batches only)."""
        if self.channels_last and isinstance(images, torch.Tensor) and images.dim() == 4:
            return images.contiguous(memory_format=torch.channels_last)
        return images


def _holds_uint8(images: Any) -> bool:
    if isinstance(images, (list, tuple)):
        return any(_holds_uint8(image) for image in images)
    return isinstance(images, torch.Tensor) and images.dtype == torch.uint8


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

