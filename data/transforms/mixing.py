"""MixUp and CutMix of training batches (torchvision.transforms.v2.MixUp and CutMix).

They act on whole batches, so the training step applies them (after moving the batch to its
device, as timm's training loop does), not the per-sample pipeline. Per batch: when both are
enabled, CutMix is chosen with probability ``cutmix.switch_prob`` and MixUp otherwise (timm's
``mixup_switch_prob``); the chosen one is applied with its probability ``p`` (timm's
``mixup_prob``). A mixed batch has soft targets (``N x n_classes``, rows summing to 1); the
classification loss adds label smoothing to them, which equals timm's smoothed mixed targets.

torchvision draws the mixing weight from ``Beta(alpha, alpha)`` and CutMix's box as timm's
``mode: batch`` does (one weight per batch, the weight corrected to the pasted box's area); it
pairs each sample with its neighbour in the batch (``roll(1)``) where timm pairs it with its
mirror (``flip(0)``): the batches are shuffled, so both give the same distribution.
"""
from __future__ import annotations

import argparse
import random
from typing import Any, Optional, Tuple

from torch import Tensor

from utils.errors import ConfigError
from utils.opts import add_options


def _alpha_and_p(opts: Any, name: str) -> Tuple[float, float]:
    key = f"image_augmentation.{name}"
    alpha, p = float(getattr(opts, f"{key}.alpha")), float(getattr(opts, f"{key}.p"))
    if alpha <= 0:
        raise ConfigError(f"{key}.alpha must be positive, got {alpha}")
    if not 0 <= p <= 1:
        raise ConfigError(f"{key}.p must be in [0, 1], got {p}")
    return alpha, p


class BatchMixing:
    """MixUp and/or CutMix of a batch, as the ``image_augmentation.{mixup,cutmix}.*`` options say.

    Args:
        opts: the options.
        n_classes: width of the soft targets (the model's output count).
    """

    def __init__(self, opts: Any, n_classes: int) -> None:
        from torchvision.transforms import v2

        self.choices = []
        for name, kind in (("mixup", v2.MixUp), ("cutmix", v2.CutMix)):
            if getattr(opts, f"image_augmentation.{name}.enable"):
                alpha, p = _alpha_and_p(opts, name)
                self.choices.append((name, kind(alpha=alpha, num_classes=n_classes), p))
        if not self.choices:
            raise ConfigError("BatchMixing needs image_augmentation.mixup.enable or image_augmentation.cutmix.enable")
        self.switch_prob = float(getattr(opts, "image_augmentation.cutmix.switch_prob"))
        if not 0 <= self.switch_prob <= 1:
            raise ConfigError(f"image_augmentation.cutmix.switch_prob must be in [0, 1], got {self.switch_prob}")
        self.n_classes = n_classes

    def choose(self) -> Tuple[str, Any, float]:
        if len(self.choices) == 1:
            return self.choices[0]
        return self.choices[1] if random.random() < self.switch_prob else self.choices[0]

    def __call__(self, images: Tensor, labels: Tensor) -> Tuple[Tensor, Tensor]:
        """``(images, targets)``: mixed images with soft targets, or the batch as it was (integer
        labels) when the chosen transform is skipped."""
        _, mix, p = self.choose()
        if p < 1.0 and random.random() >= p:
            return images, labels
        return mix(images, labels)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}(alpha={mix.alpha}, p={p})" for name, mix, p in self.choices)
        return f"BatchMixing({inner}, switch_prob={self.switch_prob}, n_classes={self.n_classes})"


def build_batch_mixing(opts: Any, n_classes: Optional[int]) -> Optional[BatchMixing]:
    """The batch mixing the options enable, or ``None``; classification only."""
    enabled = [name for name in ("mixup", "cutmix") if getattr(opts, f"image_augmentation.{name}.enable")]
    if not enabled:
        return None
    if not n_classes:
        raise ConfigError(f"image_augmentation.{enabled[0]}.enable needs model.classification.n_classes")
    return BatchMixing(opts, int(n_classes))


def arguments_mixing(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("MixUp and CutMix (of training batches, classification)")
    add_options(group, "--image-augmentation.mixup", [
        ("enable", False, "MixUp"),
        ("alpha", 0.2, "MixUp weights are drawn from Beta(alpha, alpha)"),
        ("p", 1.0, "probability of mixing a batch chosen for MixUp"),
    ])
    add_options(group, "--image-augmentation.cutmix", [
        ("enable", False, "CutMix"),
        ("alpha", 1.0, "CutMix weights are drawn from Beta(alpha, alpha)"),
        ("p", 1.0, "probability of mixing a batch chosen for CutMix"),
        ("switch-prob", 0.5, "with MixUp enabled too: probability that a batch is chosen for CutMix rather than "
         "MixUp (timm's mixup_switch_prob)"),
    ])
    return parser
