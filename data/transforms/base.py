"""Transform registry and the helpers shared by the OpenCV-based transforms.

A transform is called on a sample dict: ``image`` (H x W x 3 uint8 array in OpenCV's BGR order;
an RGB PIL image after RandAugment, or after a crop that hands one over to the transforms that take
one, those with ``takes_pil``) and, for dense or box tasks, ``mask`` (H x W), ``box_coordinates``
(N x 4, x1 y1 x2 y2) and ``box_labels`` (N,). Transforms keep these aligned; the flips also keep
``instance_masks`` (N x H x W) aligned.

A transform names the random generators it draws from in ``draws`` (see
:mod:`utils.random_state`): only those are seeded for each sample.
"""
from __future__ import annotations

import random
from typing import Any, Callable, Dict, List, Sequence, Tuple, Union

import cv2
import numpy as np

from utils.errors import ConfigError
from utils.random_state import draws_of
from utils.registry import Registry

TRANSFORM_REGISTRY = Registry("image transform")

Sample = Dict[str, Any]
Size = Union[int, Sequence[int]]

INTERPOLATIONS = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}

# Not an OpenCV flag: resizing with PIL's bicubic filter, which widens its support when it shrinks
# an image (antialiasing). It is what timm and torchvision do to PIL images ("bicubic" there), so the
# ParC ConvNets see the inputs their recipe trained on; OpenCV's INTER_CUBIC ("cubic") does not
# antialias.
PIL_BICUBIC = "pil_bicubic"
RESIZE_INTERPOLATIONS: Dict[str, Union[int, str]] = {**INTERPOLATIONS, "bicubic": PIL_BICUBIC}

Interpolation = Union[int, str]


def cv2_interpolation(name: str, option: str = "interpolation") -> int:
    if name not in INTERPOLATIONS:
        raise ConfigError(f"{option}: unknown interpolation {name!r}; choose one of: {', '.join(INTERPOLATIONS)}")
    return INTERPOLATIONS[name]


def resize_interpolation(name: str, option: str = "interpolation") -> Interpolation:
    """The interpolation of a resize: an OpenCV flag, or :data:`PIL_BICUBIC` for ``bicubic``."""
    if name not in RESIZE_INTERPOLATIONS:
        raise ConfigError(f"{option}: unknown interpolation {name!r}; "
                          f"choose one of: {', '.join(RESIZE_INTERPOLATIONS)}")
    return RESIZE_INTERPOLATIONS[name]


def resize_image(image: np.ndarray, width: int, height: int, interpolation: Interpolation) -> np.ndarray:
    """``image`` (H x W or H x W x C uint8) resized to ``width`` x ``height``; channels are resized
    independently, so their order does not matter."""
    if interpolation == PIL_BICUBIC:
        from PIL import Image

        return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BICUBIC))
    return cv2.resize(image, dsize=(width, height), interpolation=interpolation)


def pil_rgb_crop(image: np.ndarray, top: int, left: int, height: int, width: int) -> Any:
    """The ``height`` x ``width`` crop at (``top``, ``left``) of an H x W x 3 uint8 BGR array, as an
    RGB PIL image: PIL unpacks the crop's rows straight from the array, swapping the channels on the
    way (one copy, where cropping, then handing over and converting would make three)."""
    from PIL import Image

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 image, got {image.shape} {image.dtype}")
    image = np.ascontiguousarray(image)
    row = image.strides[0]
    start = top * row + left * image.strides[1]
    return Image.frombuffer("RGB", (width, height), image.reshape(-1)[start:], "raw", "BGR", row, 1)


def pair(size: Size) -> Tuple[int, int]:
    """``(h, w)`` from an int or a sequence of one or two ints."""
    if isinstance(size, int):
        return size, size
    size = tuple(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) != 2:
        raise ValueError(f"expected a size or an (h, w) pair, got {size}")
    return int(size[0]), int(size[1])


def crop_sample(data: Sample, top: int, left: int, height: int, width: int) -> Sample:
    data["image"] = data["image"][top:top + height, left:left + width]
    if data.get("mask") is not None:
        data["mask"] = data["mask"][top:top + height, left:left + width]
    return data


def resize_sample(data: Sample, size: Size, interpolation: Interpolation = cv2.INTER_LINEAR) -> Sample:
    """Resize to ``(h, w)``, or with an int, the shorter side to ``size`` keeping the aspect ratio.

    Masks use nearest-neighbour interpolation. Boxes are left as they are: pipelines that resize
    boxed images express the boxes as fractions of the image size first (BoxPercentCoords).
    """
    img = data["image"]
    h, w = img.shape[:2]
    if isinstance(size, int):
        if (w <= h and w == size) or (h <= w and h == size):
            return data
        if w < h:
            new_h, new_w = int(size * h / w), size
        else:
            new_h, new_w = size, int(size * w / h)
    else:
        new_h, new_w = pair(size)
    data["image"] = resize_image(img, new_w, new_h, interpolation)
    if data.get("mask") is not None:
        data["mask"] = cv2.resize(data["mask"], dsize=(new_w, new_h), interpolation=cv2.INTER_NEAREST)
    return data


class Compose:
    def __init__(self, transforms: List[Callable[[Sample], Sample]]) -> None:
        self.transforms = list(transforms)

    @property
    def draws(self) -> frozenset:
        """The random generators the chain draws from."""
        return draws_of(self.transforms)

    def __call__(self, data: Sample) -> Sample:
        for transform in self.transforms:
            data = transform(data)
        return data

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class RandomOrder:
    """Apply a random ``apply_k`` fraction of the given transforms in a random order."""

    def __init__(self, opts: Any, transforms: List[Callable[[Sample], Sample]]) -> None:
        apply_k = float(getattr(opts, "image_augmentation.random_order.apply_k"))
        if not 0.0 < apply_k <= 1.0:
            raise ConfigError(f"image_augmentation.random_order.apply_k must be in (0, 1], got {apply_k}")
        self.transforms = list(transforms)
        self.keep = int(np.ceil(len(self.transforms) * apply_k))

    @property
    def draws(self) -> frozenset:
        return draws_of(self.transforms) | {"python"}

    def __call__(self, data: Sample) -> Sample:
        for transform in random.sample(self.transforms, len(self.transforms))[:self.keep]:
            data = transform(data)
        return data

    def __repr__(self) -> str:
        return f"RandomOrder(keep={self.keep}, transforms={self.transforms})"


def check_range(value: Sequence[float], option: str, low: float = float("-inf"), high: float = float("inf")) -> \
        Tuple[float, float]:
    """``(a, b)`` with ``low <= a <= b <= high``, else a ConfigError naming ``option``."""
    value = tuple(value) if isinstance(value, (list, tuple)) else (value, value)
    if len(value) != 2 or not low <= value[0] <= value[1] <= high:
        raise ConfigError(f"{option} must be a (low, high) pair within [{low}, {high}], got {list(value)}")
    return float(value[0]), float(value[1])
