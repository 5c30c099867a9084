"""Loss functions, one per task (``loss.category``)."""
from __future__ import annotations

import argparse
from typing import Any

from loss_fn import classification, detection, model_losses, segmentation  # noqa: F401  (registration)
from loss_fn.base import LOSS_REGISTRY, BaseCriterion
from utils.opts import add_options


def build_loss(opts: Any) -> BaseCriterion:
    category = getattr(opts, "loss.category") or getattr(opts, "dataset.category")
    return LOSS_REGISTRY.get(category)(opts)


def arguments_loss(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Loss")
    add_options(group, "--loss", [
        ("category", None, "task of the loss (default: dataset.category)", dict(type=str, choices=LOSS_REGISTRY.names())),
        ("ignore-idx", -1, "target value that the loss ignores"),
    ])
    LOSS_REGISTRY.add_arguments(parser)
    return parser


__all__ = ["LOSS_REGISTRY", "BaseCriterion", "build_loss", "arguments_loss"]
