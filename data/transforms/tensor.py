"""The model's input convention, and the conversion of samples to tensors.

A model family fixes how its released weights expect their inputs: ParC-Net and MobileViT take
OpenCV's BGR order in [0, 1], unnormalised (the defaults); the ParC ConvNets take RGB normalised
with the ImageNet mean and std, as timm's ConvNeXt recipe trained them. The
``image_augmentation.to_tensor.*`` options say which, and :class:`InputConvention` is the one place
that applies them, in two halves: :meth:`InputConvention.to_uint8` (the channel order and layout,
where the data loading processes end: batches travel as bytes) and
:meth:`InputConvention.normalise` (scaling and normalisation, on the training device, as timm's
prefetcher does). :func:`image_to_tensor` and :class:`ToTensor` do both, for single images
(evaluation scripts, the benchmark, exporters); the datasets end with :class:`ToUint8Tensor`.

A sample's image is an H x W x 3 uint8 array in OpenCV's BGR order, or a PIL image in RGB (what
:class:`~data.transforms.rand_augment.RandAugment` hands on, and a random resized crop resized by
PIL): each layout is converted once, a PIL image by packing its bands into the planes.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from data.transforms.base import TRANSFORM_REGISTRY, Sample
from utils.errors import ConfigError
from utils.opts import add_options

CHANNEL_ORDERS = ("bgr", "rgb")
_KEY = "image_augmentation.to_tensor"


def _three_floats(value: Optional[Sequence[float]], option: str, positive: bool = False) -> Tuple[float, ...]:
    if value is None or len(value) != 3:
        raise ConfigError(f"{option} needs 3 values (one per output channel, on the [0, 1] scale) when "
                          f"{_KEY}.mean_std_normalization.enable is set, got {value}")
    if positive and min(value) <= 0:
        raise ConfigError(f"{option} must be positive, got {list(value)}")
    return tuple(float(v) for v in value)


@dataclass(frozen=True)
class InputConvention:
    """How a decoded image becomes the model's input.

    Attributes:
        channel_order: ``"bgr"`` (OpenCV's order, as decoded) or ``"rgb"``.
        mean: per-channel mean on the [0, 1] scale, in the output channel order; ``None``: no
            normalisation.
        std: per-channel standard deviation, likewise.
    """

    channel_order: str = "bgr"
    mean: Optional[Tuple[float, float, float]] = None
    std: Optional[Tuple[float, float, float]] = None

    @classmethod
    def from_opts(cls, opts: Any) -> "InputConvention":
        order = getattr(opts, f"{_KEY}.channel_order")
        if order not in CHANNEL_ORDERS:
            raise ConfigError(f"{_KEY}.channel_order: choose one of {', '.join(CHANNEL_ORDERS)}, got {order!r}")
        if not getattr(opts, f"{_KEY}.mean_std_normalization.enable"):
            return cls(order)
        key = f"{_KEY}.mean_std_normalization"
        return cls(order, _three_floats(getattr(opts, f"{key}.mean"), f"{key}.mean"),
                   _three_floats(getattr(opts, f"{key}.std"), f"{key}.std", positive=True))

    def mean_rgb(self) -> Optional[Tuple[float, float, float]]:
        """The normalisation mean in RGB order (``None`` without normalisation)."""
        if self.mean is None:
            return None
        return self.mean if self.channel_order == "rgb" else tuple(reversed(self.mean))

    def std_rgb(self) -> Optional[Tuple[float, float, float]]:
        """The normalisation standard deviation in RGB order (``None`` without normalisation)."""
        if self.std is None:
            return None
        return self.std if self.channel_order == "rgb" else tuple(reversed(self.std))

    def to_uint8(self, image: Any) -> torch.Tensor:
        """A 3 x H x W uint8 tensor with the channels in :attr:`channel_order`, from an H x W x 3 uint8
        BGR array or an RGB PIL image."""
        if not isinstance(image, np.ndarray):
            if image.mode != "RGB":
                raise ValueError(f"expected an RGB PIL image, got mode {image.mode}")
            return _pil_planes(image, self.channel_order.upper())
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an H x W x 3 uint8 image, got {image.shape} {image.dtype}")
        if self.channel_order == "rgb":
            image = image[..., ::-1]
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))

    def normalise(self, images: torch.Tensor, constants: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
                  ) -> torch.Tensor:
        """Float inputs from uint8 ones of :meth:`to_uint8` (``... x 3 x H x W``, on any device):
        scaled to [0, 1] and, with a mean and std, normalised.

        Args:
            images: uint8 tensor, one image or a batch.
            constants: the mean and std as ``3 x 1 x 1`` float tensors on ``images``' device
                (made here when not given).
        """
        tensor = images.float().div_(255.0)
        if self.mean is not None:
            mean, std = constants if constants is not None else self.constants(images.device)
            tensor.sub_(mean).div_(std)
        return tensor

    def constants(self, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
        """The mean and std as ``3 x 1 x 1`` float tensors on ``device`` (requires normalisation)."""
        return (torch.tensor(self.mean).view(3, 1, 1).to(device), torch.tensor(self.std).view(3, 1, 1).to(device))

    def __call__(self, image: Any) -> torch.Tensor:
        """The float model input of one image (see :meth:`to_uint8` and :meth:`normalise`)."""
        return self.normalise(self.to_uint8(image))


def _pil_planes(image: Any, order: str) -> torch.Tensor:
    """The 3 x H x W uint8 tensor of an RGB PIL image, its channels in ``order`` (``"RGB"`` or
    ``"BGR"``): PIL packs each band into its plane (as cheap as packing the pixels, and no
    transposition after)."""
    width, height = image.size
    planes = np.empty((3, height, width), np.uint8)
    for plane, band in zip(planes, order):
        plane[...] = np.frombuffer(image.tobytes("raw", band), np.uint8).reshape(height, width)
    return torch.from_numpy(planes)


class DeviceNormaliser:
    """:meth:`InputConvention.normalise` for batches on the training device, the mean and std kept
    there. Float inputs pass unchanged (they are model inputs already); lists (images of their own
    sizes) are normalised one by one.

    Args:
        convention: the model's input convention (that of the loader's :class:`ToUint8Tensor`).
    """

    def __init__(self, convention: InputConvention) -> None:
        self.convention = convention
        self._constants: Dict[torch.device, Tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, images: Any) -> Any:
        if isinstance(images, (list, tuple)):
            return type(images)(self(image) for image in images)
        if not isinstance(images, torch.Tensor) or images.is_floating_point():
            return images
        if images.dtype != torch.uint8:
            raise ValueError(f"expected uint8 or float images, got {images.dtype}")
        constants = None
        if self.convention.mean is not None:
            if images.device not in self._constants:
                self._constants[images.device] = self.convention.constants(images.device)
            constants = self._constants[images.device]
        return self.convention.normalise(images, constants)

    def __repr__(self) -> str:
        return f"DeviceNormaliser({self.convention})"


def image_to_tensor(image: np.ndarray, opts: Any) -> torch.Tensor:
    """The model input of one decoded image, per the ``image_augmentation.to_tensor.*`` options.

    Args:
        image: H x W x 3 uint8 array in OpenCV's BGR order (as :func:`data.datasets.read_image`
            returns it), already resized and cropped.
        opts: the parsed options.

    Returns:
        A 3 x H x W float tensor: the channels in ``channel_order``, scaled to [0, 1] and, when
        ``mean_std_normalization.enable`` is set, normalised with its ``mean`` and ``std``.
    """
    return InputConvention.from_opts(opts)(image)


@TRANSFORM_REGISTRY.register("to_tensor")
class ToTensor:
    """Image: H x W x 3 uint8 BGR (or an RGB PIL image) -> 3 x H x W float, by
    :func:`image_to_tensor`. Mask: int64 tensor."""

    draws = ()

    def __init__(self, opts: Any) -> None:
        self.convention = InputConvention.from_opts(opts)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Input convention (model inputs)")
        add_options(group, "--image-augmentation.to-tensor", [
            ("channel-order", "bgr", "channel order of the model input (bgr: as OpenCV decodes, the ParC-Net and "
             "MobileViT weights; rgb: timm's, the ParC ConvNets)", dict(choices=CHANNEL_ORDERS)),
            ("mean-std-normalization.enable", False, "subtract the mean and divide by the std after scaling to [0, 1]"),
            ("mean-std-normalization.mean", None, "3 values on the [0, 1] scale, in the output channel order "
             "(ImageNet's in RGB: 0.485 0.456 0.406)", dict(type=float, nargs="+")),
            ("mean-std-normalization.std", None, "3 values on the [0, 1] scale, in the output channel order "
             "(ImageNet's in RGB: 0.229 0.224 0.225)", dict(type=float, nargs="+")),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        data["image"] = self.convert(data["image"])
        if data.get("mask") is not None:
            data["mask"] = torch.from_numpy(np.ascontiguousarray(data["mask"])).long()
        return data

    def convert(self, image: Any) -> torch.Tensor:
        return self.convention(image)

    def __repr__(self) -> str:
        c = self.convention
        return f"{type(self).__name__}(channel_order={c.channel_order}, mean={c.mean}, std={c.std})"


class ToUint8Tensor(ToTensor):
    """Image: H x W x 3 uint8 BGR (or an RGB PIL image) -> 3 x H x W uint8 in the convention's
    channel order, by :meth:`InputConvention.to_uint8`; the training step and the evaluation loop
    scale and normalise it on their device (:class:`DeviceNormaliser`). Mask: int64 tensor. The
    last transform of every dataset: batches travel from the loading processes as bytes."""

    def convert(self, image: Any) -> torch.Tensor:
        return self.convention.to_uint8(image)
