"""Random erasing of a rectangle of the input (torchvision.transforms.v2.RandomErasing), in two halves.

Erasing acts on the normalised input, as in timm's pipeline, and the normalised input only exists
on the training device (the loading processes ship bytes). :class:`RandomErase`, the last transform
of a sample, makes torchvision's draws from the sample's seeded torch generator (the erasing
probability, then an area a uniform fraction of the image, a log-uniform aspect ratio, up to 10
tries, the ``pixel`` noise, the position) and keeps the rectangle; for ``mode: pixel`` it also keeps
the generator's state before those draws (5056 bytes). :func:`erase_batch` fills the rectangles in
the normalised batch on the device, before MixUp and CutMix see it, as timm's prefetcher does: with
zeros (``const``, torchvision's and ml-cvnets' default) or with the noise that torchvision draws from
the kept state (``pixel``, timm's ``remode pixel``). Either way the input equals torchvision's
transform of the normalised tensor for the same seed. The area and ratio ranges are timm's
(0.02-1/3 and 0.3-1/0.3).
"""
from __future__ import annotations

import argparse
from typing import Any, Dict

import torch
from torch import Tensor

from data.transforms.base import TRANSFORM_REGISTRY, Sample
from utils.errors import ConfigError
from utils.opts import add_options

_KEY = "image_augmentation.random_erase"
MODES = ("const", "pixel")
AREA = (0.02, 1 / 3)
ASPECT_RATIO = (0.3, 1 / 0.3)


def _eraser(pixel: bool) -> Any:
    """torchvision's RandomErasing, always applied, with this module's ranges."""
    from torchvision.transforms import v2

    return v2.RandomErasing(p=1.0, scale=AREA, ratio=ASPECT_RATIO, value="random" if pixel else 0.0)


@TRANSFORM_REGISTRY.register("random_erase")
class RandomErase:
    """With probability ``p``, choose one rectangle of the sample's 3 x H x W image tensor to erase.
    ``data["erase"]`` gets ``{"box": (top, left, height, width)}`` as an int64 tensor (a height of 0:
    none) and, for ``mode: pixel``, ``"rng"``: the torch generator's state the noise is drawn from;
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
        channels, height, width = data["image"].shape[-3:]
        box, state = (0, 0, 0, 0), None
        if torch.rand(1) < self.p:  # torchvision's random application
            state = torch.get_rng_state() if self.mode == "pixel" else None
            params = self.eraser.make_params([torch.empty(channels, height, width, dtype=torch.uint8)])
            if params["v"] is not None:  # else no rectangle fitted in 10 tries: torchvision leaves the image
                box = (params["i"], params["j"], params["h"], params["w"])
        data["erase"] = {"box": torch.tensor(box, dtype=torch.int64)}
        if self.mode == "pixel":
            data["erase"]["rng"] = state if box[2] else torch.zeros_like(torch.default_generator.get_state())
        return data

    def __repr__(self) -> str:
        return f"RandomErase(p={self.p}, mode={self.mode})"


def erase_batch(images: Tensor, erase: Dict[str, Tensor]) -> Tensor:
    """Erase, in place, the rectangle of each normalised image of ``images`` (N x C x H x W float, on
    any device) that ``erase`` (the batch's ``erase`` entry: ``box`` N x 4 and, in pixel mode,
    ``rng`` N x 5056) gives: with zeros, or with the noise drawn from each image's ``rng`` state.
    Returns ``images``."""
    pixel = "rng" in erase
    eraser = _eraser(pixel) if pixel else None
    channels, height, width = images.shape[-3:]
    for n, (top, left, box_h, box_w) in enumerate(erase["box"].tolist()):
        if box_h == 0:
            continue
        region = images[n, :, top:top + box_h, left:left + box_w]
        if eraser is None:
            region.zero_()
            continue
        with torch.random.fork_rng(devices=[]):  # torchvision's draws again, from the sample's state
            torch.set_rng_state(erase["rng"][n].cpu().clone())  # a row of its own: torch reads a state from its storage
            params = eraser.make_params([torch.empty(channels, height, width)])
        region.copy_(params["v"])
    return images
