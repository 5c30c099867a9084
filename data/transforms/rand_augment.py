"""RandAugment as the ConvNeXt recipe applies it (``rand-m9-mstd0.5-inc1``), by timm's policy.

Why timm's and not ``torchvision.transforms.v2.RandAugment``: the recipe is defined by timm's
policy, and torchvision's differs from it in four ways that change the training distribution:
it applies every chosen op (timm: each with probability 0.5, so one op per image on average
instead of two), it has no magnitude noise (``mstd``), its magnitude lives on a 31-bin scale
(timm: 0-10, so ``m9`` is 90 % of each op's range; torchvision's magnitude 9 is 30 %), and its op
set has Identity where timm's has Invert and SolarizeAdd (with posterize keeping 4 bits at 90 %
where timm keeps 1). timm's ops work on PIL images in RGB order: the BGR image of this pipeline is
handed over in RGB, so that Color and Contrast (whose grey level weighs R, G and B differently) and
the fill of the geometric ops (the normalisation mean, in RGB) meet the channels they expect, and
the result stays an RGB PIL image: the tensor conversion that follows takes it as it is (one
conversion each way, none back to BGR). In the recipe's chain the crop already comes as an RGB PIL
image (see :class:`~data.transforms.geometric.RandomResizedCrop`): no conversion at all.
"""
from __future__ import annotations

import argparse
from typing import Any, Optional, Tuple

import cv2
import numpy as np

from data.transforms.base import TRANSFORM_REGISTRY, Sample, Size, pair
from data.transforms.tensor import InputConvention
from utils.errors import ConfigError
from utils.opts import add_options

_KEY = "image_augmentation.rand_augment"
INTERPOLATIONS = ("bicubic", "bilinear", "nearest", "random")
# grey of the pixels that geometric ops bring in when the input is not normalised (timm's default)
_DEFAULT_FILL = (128, 128, 128)


def _number(value: float) -> str:
    """``value`` as it may appear in a timm policy string (no exponent, no trailing zeros)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def policy_string(num_ops: int, magnitude: int, magnitude_std: float, p: float, increasing: bool) -> str:
    """The timm policy string of these settings, e.g. ``rand-m9-n2-mstd0.5-p0.5-inc1``."""
    return f"rand-m{magnitude}-n{num_ops}-mstd{_number(magnitude_std)}-p{_number(p)}-inc{int(increasing)}"


def fill_color(opts: Any) -> Tuple[int, int, int]:
    """RGB fill of geometric ops: the normalisation mean in 0-255, as timm fills, else grey."""
    mean = InputConvention.from_opts(opts).mean_rgb()
    return _DEFAULT_FILL if mean is None else tuple(min(255, round(255 * m)) for m in mean)


def _posterize(image: Any, bits_to_keep: int, **_: Any) -> Any:
    """timm's posterize op, keeping 0 bits as the Pillow of the recipe did (a black image): at
    ``m9-mstd0.5`` the magnitude reaches 10, where the increasing posterize keeps 0 bits, which
    Pillow 13 rejects."""
    from PIL import Image, ImageOps

    if bits_to_keep >= 8:
        return image
    if bits_to_keep <= 0:
        return Image.new(image.mode, image.size)
    return ImageOps.posterize(image, bits_to_keep)


def zero_bit_posterize(transform: Any) -> Any:
    """timm's RandAugment ``transform`` with its posterize ops keeping 0 bits as the recipe's Pillow
    did (:func:`_posterize`); returns it."""
    for op in transform.ops:
        if op.name.startswith("Posterize"):
            op.aug_fn = _posterize
    return transform


@TRANSFORM_REGISTRY.register("rand_augment")
class RandAugment:
    """timm's RandAugment on a BGR uint8 image (or an RGB PIL image), giving an RGB PIL image:
    ``num_ops`` ops drawn (with replacement) from the policy's 15, each applied with probability
    ``p`` at a magnitude drawn from ``N(magnitude, magnitude_std)`` clipped to [0, 10].
    Classification only (boxes and masks are not transformed).

    Args:
        opts: the options (``image_augmentation.rand_augment.*`` and the input convention, whose
            mean gives the fill colour).
        size: the crop size, ``(h, w)`` or one side (sets timm's absolute translation constant).
    """

    draws = ("python", "numpy")  # timm draws the ops with NumPy, their application and magnitude with random
    takes_pil = True  # an RGB PIL image (from the crop) goes in as it is

    def __init__(self, opts: Any, size: Size) -> None:
        from timm.data.auto_augment import rand_augment_transform

        num_ops, magnitude = int(getattr(opts, f"{_KEY}.num_ops")), int(getattr(opts, f"{_KEY}.magnitude"))
        magnitude_std, p = float(getattr(opts, f"{_KEY}.magnitude_std")), float(getattr(opts, f"{_KEY}.p"))
        if num_ops < 1:
            raise ConfigError(f"{_KEY}.num_ops must be at least 1, got {num_ops}")
        if not 0 <= magnitude <= 10:
            raise ConfigError(f"{_KEY}.magnitude is on timm's 0-10 scale, got {magnitude}")
        if magnitude_std < 0:
            raise ConfigError(f"{_KEY}.magnitude_std must be >= 0, got {magnitude_std}")
        if not 0 < p <= 1:
            raise ConfigError(f"{_KEY}.p must be in (0, 1], got {p}")
        self.policy = policy_string(num_ops, magnitude, magnitude_std, p, bool(getattr(opts, f"{_KEY}.increasing")))
        hparams = {"translate_const": int(min(pair(size)) * 0.45), "img_mean": fill_color(opts)}
        interpolation = self._pil_interpolation(getattr(opts, f"{_KEY}.interpolation"))
        if interpolation is not None:
            hparams["interpolation"] = interpolation
        self.transform = zero_bit_posterize(rand_augment_transform(self.policy, hparams))

    @staticmethod
    def _pil_interpolation(name: str) -> Optional[int]:
        from PIL import Image

        if name not in INTERPOLATIONS:
            raise ConfigError(f"{_KEY}.interpolation: choose one of {', '.join(INTERPOLATIONS)}, got {name!r}")
        modes = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR,
                 "nearest": Image.Resampling.NEAREST}
        return modes.get(name)  # "random": timm draws bilinear or bicubic per op

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("RandAugment (timm's policy; the defaults are rand-m9-mstd0.5-inc1)")
        add_options(group, "--image-augmentation.rand-augment", [
            ("enable", False, "RandAugment (classification training)"),
            ("num-ops", 2, "ops drawn per image (timm's n)"),
            ("magnitude", 9, "magnitude on timm's 0-10 scale (timm's m)"),
            ("magnitude-std", 0.5, "std of the normal noise added to the magnitude per op (timm's mstd)"),
            ("p", 0.5, "probability of applying each drawn op (timm's p)"),
            ("increasing", True, "the op set whose severity increases with the magnitude (timm's inc1)"),
            ("interpolation", "bicubic", "interpolation of the geometric ops (random: bilinear or bicubic per op)",
             dict(choices=INTERPOLATIONS)),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        from PIL import Image

        image = data["image"]
        if isinstance(image, np.ndarray):
            image = Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        data["image"] = self.transform(image)
        return data

    def __repr__(self) -> str:
        return f"RandAugment({self.policy})"
