"""Random erasing of a rectangle of the input (torchvision.transforms.v2.RandomErasing), in two halves.

Erasing acts on the normalised input, as in timm's pipeline, and the normalised input only exists
on the training device (the loading processes ship bytes). :class:`RandomErase`, the last transform
of a sample, draws from the sample's seeded torch generator as torchvision does: the erasing
probability, then an area a uniform fraction of the image, a log-uniform aspect ratio (up to 10
tries), the ``pixel`` noise, the position. With ``mode: const`` (zeros, torchvision's and ml-cvnets'
default) it makes those draws and keeps the rectangle; with ``mode: pixel`` (timm's ``remode
pixel``) it keeps the generator's state after the first draw instead (5056 bytes), and the device
makes the rest, noise included. :func:`erase_batch` erases in the normalised batch on the device,
before MixUp and CutMix see it, as timm's prefetcher does. Either way the input equals
torchvision's transform of the normalised tensor for the same seed. The area and ratio ranges are
timm's (0.02-1/3 and 0.3-1/0.3).
"""
from __future__ import annotations

import argparse
from typing import Any, Dict

import numpy as np
import torch
from torch import Tensor

from data.transforms.base import TRANSFORM_REGISTRY, Sample
from utils.errors import ConfigError
from utils.opts import add_options

_KEY = "image_augmentation.random_erase"
MODES = ("const", "pixel")
AREA = (0.02, 1 / 3)
ASPECT_RATIO = (0.3, 1 / 0.3)
_NO_STATE = torch.zeros_like(torch.get_rng_state())  # no erasing, in pixel mode (no generator has this state)


def _eraser(pixel: bool) -> Any:
    """torchvision's RandomErasing, always applied, with this module's ranges."""
    from torchvision.transforms import v2

    return v2.RandomErasing(p=1.0, scale=AREA, ratio=ASPECT_RATIO, value="random" if pixel else 0.0)


@TRANSFORM_REGISTRY.register("random_erase")
class RandomErase:
    """With probability ``p``, choose one rectangle of the sample's 3 x H x W image tensor to erase.
    ``data["erase"]`` gets ``{"box": (top, left, height, width)}`` as an int64 tensor (a height of 0:
    none) or, for ``mode: pixel``, ``{"rng": the torch generator's state}`` (all zeros: none);
    :func:`erase_batch` erases. Classification only."""

    draws = ("torch",)

    def __init__(self, opts: Any) -> None:
        self.p = float(getattr(opts, f"{_KEY}.p"))
        if not 0 <= self.p <= 1:
            raise ConfigError(f"{_KEY}.p must be in [0, 1], got {self.p}")
        self.mode = getattr(opts, f"{_KEY}.mode")
        if self.mode not in MODES:
            raise ConfigError(f"{_KEY}.mode: choose one of {', '.join(MODES)}, got {self.mode!r}")
        self.eraser = _eraser(self.mode == "pixel")
        # torchvision compares its draw with p in float32 (p rounded to it): the same test, in Python
        self.threshold = float(np.float32(self.p))

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
        erasing = torch.rand(1).item() < self.threshold  # torchvision's random application
        if self.mode == "pixel":
            data["erase"] = {"rng": torch.get_rng_state() if erasing else _NO_STATE}
            return data
        box = (0, 0, 0, 0)
        if erasing:
            params = self.eraser.make_params([torch.empty(data["image"].shape[-3:], dtype=torch.uint8)])
            if params["v"] is not None:  # else no rectangle fitted in 10 tries: torchvision leaves the image
                box = (params["i"], params["j"], params["h"], params["w"])
        data["erase"] = {"box": torch.tensor(box, dtype=torch.int64)}
        return data

    def __repr__(self) -> str:
        return f"RandomErase(p={self.p}, mode={self.mode})"


def erase_batch(images: Tensor, erase: Dict[str, Tensor]) -> Tensor:
    """Erase, in place, the rectangle of each normalised image of ``images`` (N x C x H x W float, on
    any device) that ``erase`` (the batch's ``erase`` entry) gives: with zeros where it holds each
    image's ``box`` (N x 4), else (pixel mode, ``rng``: N x 5056) where torchvision's draws from each
    image's generator state put it, with their noise. Returns ``images``."""
    if "box" in erase:
        for n, (top, left, height, width) in enumerate(erase["box"].tolist()):
            images[n, :, top:top + height, left:left + width] = 0
        return images
    eraser = _eraser(pixel=True)
    for n in erase["rng"].any(dim=1).nonzero().flatten().tolist():
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(erase["rng"][n].cpu().clone())  # a row of its own: torch reads a state's storage
            params = eraser.make_params([images[n]])
        if params["v"] is not None:  # else no rectangle fitted in 10 tries
            top, left, height, width = params["i"], params["j"], params["h"], params["w"]
            images[n, :, top:top + height, left:left + width] = params["v"].to(images.device, images.dtype)
    return images
