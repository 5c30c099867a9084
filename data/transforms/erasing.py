"""Random erasing of a rectangle of the input tensor (torchvision.transforms.v2.RandomErasing).

It runs after :class:`~data.transforms.tensor.ToTensor`, on the normalised input, as in timm's
pipeline. torchvision's transform draws the rectangle as timm's does (area a uniform fraction of
the image, log-uniform aspect ratio, up to 10 tries); the area and ratio ranges are timm's
(0.02-1/3 and 0.3-1/0.3), and ``mode: pixel`` fills with per-pixel standard normal noise, timm's
``remode pixel`` (``const``: zeros, torchvision's and ml-cvnets' default).
"""
from __future__ import annotations

import argparse
from typing import Any

from data.transforms.base import TRANSFORM_REGISTRY, Sample
from utils.errors import ConfigError
from utils.opts import add_options

_KEY = "image_augmentation.random_erase"
MODES = ("const", "pixel")
AREA = (0.02, 1 / 3)
ASPECT_RATIO = (0.3, 1 / 0.3)


@TRANSFORM_REGISTRY.register("random_erase")
class RandomErase:
    """With probability ``p``, erase one rectangle of a 3 x H x W tensor. Classification only."""

    def __init__(self, opts: Any) -> None:
        from torchvision.transforms import v2

        self.p = float(getattr(opts, f"{_KEY}.p"))
        if not 0 <= self.p <= 1:
            raise ConfigError(f"{_KEY}.p must be in [0, 1], got {self.p}")
        self.mode = getattr(opts, f"{_KEY}.mode")
        if self.mode not in MODES:
            raise ConfigError(f"{_KEY}.mode: choose one of {', '.join(MODES)}, got {self.mode!r}")
        self.erase = v2.RandomErasing(p=self.p, scale=AREA, ratio=ASPECT_RATIO,
                                      value="random" if self.mode == "pixel" else 0.0)

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
        data["image"] = self.erase(data["image"])
        return data

    def __repr__(self) -> str:
        return f"RandomErase(p={self.p}, mode={self.mode})"
