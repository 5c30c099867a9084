"""OpenCV-based image transforms, selected by the ``image_augmentation.<name>.*`` options: the
``<name>`` of each optional augmentation is its name in :data:`TRANSFORM_REGISTRY`."""
from __future__ import annotations

import argparse
from typing import Any, Callable, List, Sequence

from data.transforms.base import TRANSFORM_REGISTRY, Compose, RandomOrder, Sample
from data.transforms.erasing import RandomErase, erase_batch
from data.transforms.geometric import (BoxPercentCoords, CenterCrop, RandomCrop, RandomFlip, RandomHorizontalFlip,
                                       RandomResize, RandomResizedCrop, RandomRotate, RandomScale, RandomTranslate,
                                       RandomVerticalFlip, RandomZoomOut, Resize, SSDCropping)
from data.transforms.photometric import (PhotometricDistort, RandomBlur, RandomGammaCorrection, RandomGaussianNoise,
                                         RandomJPEGCompress)
from data.transforms.mixing import BatchMixing, arguments_mixing, build_batch_mixing
from data.transforms.rand_augment import RandAugment
from data.transforms.tensor import DeviceNormaliser, InputConvention, ToTensor, ToUint8Tensor, image_to_tensor
from utils.errors import ConfigError
from utils.opts import add_options

# the optional augmentations a config can switch on (image_augmentation.<name>.enable), by their
# registered names, in the order they are applied
OPTIONAL_AUGMENTATIONS = ("random_gamma_correction", "random_rotate", "random_blur", "random_translate",
                          "random_jpeg_compress", "random_gauss_noise", "random_resize", "random_scale",
                          "photo_metric_distort")


def _enabled(opts: Any, name: str) -> bool:
    return bool(getattr(opts, f"image_augmentation.{name}.enable"))


def build_transform(name: str, opts: Any, *args: Any) -> Callable[[Sample], Sample]:
    """The transform registered as ``name`` (that of the options ``image_augmentation.<name>.*``),
    made from ``opts`` and ``args``."""
    return TRANSFORM_REGISTRY.get(name)(opts, *args)


def augmentation_transforms(opts: Any, exclude: Sequence[str] = ()) -> List[Callable[[Sample], Sample]]:
    """The optional training augmentations the config enables (after any task-specific crop),
    except those of ``exclude`` (which the task applies at another point)."""
    chain: List[Callable[[Sample], Sample]] = [build_transform(name, opts) for name in OPTIONAL_AUGMENTATIONS
                                               if _enabled(opts, name) and name not in exclude]
    horizontal, vertical = _enabled(opts, "random_horizontal_flip"), _enabled(opts, "random_vertical_flip")
    if _enabled(opts, "random_flip") or (horizontal and vertical):
        chain.append(build_transform("random_flip", opts))
    elif vertical:
        chain.append(build_transform("random_vertical_flip", opts))
    elif horizontal:
        chain.append(build_transform("random_horizontal_flip", opts))
    if _enabled(opts, "random_order") and len(chain) > 1:
        chain = [RandomOrder(opts, chain)]
    return chain


# augmentations that would not keep boxes or masks aligned with the image
CLASSIFICATION_ONLY = ("rand_augment", "random_erase", "mixup", "cutmix")


def check_classification_only(opts: Any) -> None:
    """A :class:`ConfigError` when a classification-only augmentation is enabled for another task."""
    task = getattr(opts, "dataset.category")
    for name in CLASSIFICATION_ONLY:
        if task != "classification" and _enabled(opts, name):
            raise ConfigError(f"image_augmentation.{name}.enable is for classification only "
                              f"(dataset.category is {task})")


def classification_training_transforms(opts: Any, first: Callable[[Sample], Sample],
                                       size: Sequence[int]) -> Compose:
    """``first`` (the crop), the enabled augmentations, RandAugment, the (uint8) tensor, random
    erasing: the order of timm's training pipeline (erasing is completed on the device, see
    :mod:`data.transforms.erasing`). When the crop is resized by PIL and every transform after it
    takes an RGB PIL image (flips, RandAugment), the image stays one from the crop to the tensor."""
    chain = [first, *augmentation_transforms(opts)]
    if _enabled(opts, "rand_augment"):
        chain.append(build_transform("rand_augment", opts, size))
    if getattr(first, "can_hand_over_pil", False) and all(getattr(t, "takes_pil", False) for t in chain[1:]):
        first.hands_over_pil = True
    chain.append(ToUint8Tensor(opts))
    if _enabled(opts, "random_erase"):
        chain.append(build_transform("random_erase", opts))
    return Compose(chain)


def arguments_transforms(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    TRANSFORM_REGISTRY.add_arguments(parser)
    group = parser.add_argument_group("Random order")
    add_options(group, "--image-augmentation.random-order", [
        ("enable", False, "apply the augmentations in a random order"),
        ("apply-k", 1.0, "fraction of the augmentations applied each time"),
    ])
    arguments_mixing(parser)
    return parser


__all__ = [
    "TRANSFORM_REGISTRY", "Compose", "RandomOrder", "ToTensor", "ToUint8Tensor", "DeviceNormaliser", "Resize",
    "CenterCrop", "RandomResizedCrop", "RandomCrop", "RandomResize", "RandomScale", "RandomFlip",
    "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotate", "RandomTranslate", "RandomZoomOut", "SSDCropping",
    "BoxPercentCoords", "PhotometricDistort", "RandomBlur", "RandomGammaCorrection", "RandomGaussianNoise",
    "RandomJPEGCompress", "RandAugment", "RandomErase", "erase_batch", "BatchMixing", "InputConvention",
    "image_to_tensor", "build_batch_mixing", "augmentation_transforms", "check_classification_only",
    "classification_training_transforms", "arguments_transforms", "build_transform", "OPTIONAL_AUGMENTATIONS",
]
