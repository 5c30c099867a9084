"""Random erasing of a rectangle of the input (torchvision.transforms.v2.RandomErasing), in two halves.

Erasing acts on the normalised input, as in timm's pipeline, and the normalised input only exists
on the training device (the loading processes ship bytes): :class:`RandomErase`, the last transform
of a sample, draws the rectangle from the sample's seeded torch generator, with torchvision's own
draws (the erasing probability first, then area a uniform fraction of the image, log-uniform aspect
ratio, up to 10 tries, then the position); :func:`erase_batch` fills it on the device, in the
normalised batch, before MixUp and CutMix see it, as timm's prefetcher does. The area and ratio
ranges are timm's (0.02-1/3 and 0.3-1/0.3). ``mode: const`` fills with zeros (torchvision's and
ml-cvnets' default): the result equals torchvision's transform on the normalised tensor for the same
seed. ``mode: pixel`` (timm's ``remode pixel``) fills with per-pixel standard normal noise drawn on
the device from a seed the sample draws after the rectangle: torchvision draws that noise before the
position, so the position differs per seed while its distribution (uniform over the places where
the rectangle fits, whatever the noise) and the noise's are the same.
"""
from __future__ import annotations

import argparse
from typing import Any

import torch
from torch import Tensor

from data.transforms.base import TRANSFORM_REGISTRY, Sample
from utils.errors import ConfigError
from utils.opts import add_options

_KEY = "image_augmentation.random_erase"
MODES = ("const", "pixel")
AREA = (0.02, 1 / 3)
ASPECT_RATIO = (0.3, 1 / 0.3)
NO_ERASING = (0, 0, 0, 0, 0)  # top, left, height, width, noise seed: a height of 0 erases nothing


@TRANSFORM_REGISTRY.register("random_erase")
class RandomErase:
    """With probability ``p``, choose one rectangle of the sample's 3 x H x W image tensor to erase;
    ``data["erase"]`` gets ``(top, left, height, width, noise seed)`` as an int64 tensor (a height
    of 0: none), for :func:`erase_batch`. Classification only."""

    draws = ("torch",)

    def __init__(self, opts: Any) -> None:
        from torchvision.transforms import v2

        self.p = float(getattr(opts, f"{_KEY}.p"))
        if not 0 <= self.p <= 1:
            raise ConfigError(f"{_KEY}.p must be in [0, 1], got {self.p}")
        self.mode = getattr(opts, f"{_KEY}.mode")
        if self.mode not in MODES:
            raise ConfigError(f"{_KEY}.mode: choose one of {', '.join(MODES)}, got {self.mode!r}")
        self.rectangle = v2.RandomErasing(p=1.0, scale=AREA, ratio=ASPECT_RATIO, value=0.0)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Random erasing (of the input tensor)")
        add_options(group, "--image-augmentation.random-erase", [
            ("enable", False, "random erasing (classification training)"),
            ("p", 0.5, "probability of erasing a rectangle"),
            ("mode", "const", "fill: const (zeros) or pixel (standard normal noise per pixel, timm's remode pixel)",
             dict(choices=MODES)),
        ])
        return parser

    def __call__(self, data: Sample) -> Sample:
        height, width = data["image"].shape[-2:]
        data["erase"] = torch.tensor(self.draw(height, width), dtype=torch.int64)
        return data

    def draw(self, height: int, width: int) -> tuple:
        """``(top, left, height, width, noise seed)`` of the rectangle of an image of ``height x
        width``, from torch's generator (:data:`NO_ERASING`: none)."""
        if torch.rand(1) >= self.p:  # torchvision's random application
            return NO_ERASING
        params = self.rectangle.make_params([torch.empty(3, height, width, dtype=torch.uint8)])
        if params["v"] is None:  # no rectangle fitted in 10 tries: torchvision leaves the image
            return NO_ERASING
        seed = int(torch.randint(2 ** 62, (1,))) if self.mode == "pixel" else 0
        return params["i"], params["j"], params["h"], params["w"], seed

    def __repr__(self) -> str:
        return f"RandomErase(p={self.p}, mode={self.mode})"


def erase_batch(images: Tensor, rectangles: Tensor, pixel: bool) -> Tensor:
    """Erase, in place, the rectangle of each normalised image of ``images`` (N x C x H x W float, on
    any device) that ``rectangles`` (N x 5 int64, the ``erase`` entries of the batch) gives: with
    zeros, or with standard normal noise from each rectangle's seed when ``pixel``. Returns ``images``."""
    for n, (top, left, height, width, seed) in enumerate(rectangles.tolist()):
        if height == 0:
            continue
        region = images[n, :, top:top + height, left:left + width]
        if pixel:
            generator = torch.Generator(device=images.device).manual_seed(seed)
            region.copy_(torch.randn(region.shape, generator=generator, device=images.device, dtype=images.dtype))
        else:
            region.zero_()
    return images
