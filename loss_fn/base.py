"""Base of the loss functions and their registries.

One pattern for every task: ``loss.category`` names a :class:`TaskLoss` in :data:`LOSS_REGISTRY`
(one per task), which builds the variant ``loss.<task>.name`` from its task's own registry
(:attr:`TaskLoss.variants`). A new loss is one class registered in its task's registry.
"""
from __future__ import annotations

import argparse
from typing import Any

import torch
from torch import Tensor, nn

from utils.opts import add_options
from utils.registry import Registry

# one entry per task (``loss.category``)
LOSS_REGISTRY = Registry("loss category", option="loss.category")


class BaseCriterion(nn.Module):
    """``criterion(prediction, target) -> scalar loss``, built as ``cls(opts)``."""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return parser

    def forward(self, prediction: Any, target: Any) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError


class TaskLoss(BaseCriterion):
    """The loss of one task: the variant ``loss.<task>.name`` of :attr:`variants`, held as ``loss``.

    A subclass sets ``task``, ``variants`` (the task's registry) and ``default`` (the variant's
    default name) and is registered in :data:`LOSS_REGISTRY` under ``task``.
    """

    task: str
    variants: Registry
    default: str

    def __init__(self, opts: Any) -> None:
        super().__init__()
        self.loss = self.variants.get(getattr(opts, f"loss.{self.task}.name"))(opts)

    def forward(self, prediction: Any, target: Any) -> Tensor:
        return self.loss(prediction, target)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group(f"{cls.task.capitalize()} loss (loss.category: {cls.task})")
        add_options(group, f"--loss.{cls.task}", [
            ("name", cls.default, "loss", dict(choices=cls.variants.names())),
        ])
        cls.variants.add_arguments(parser)
        return parser


def batch_class_weights(target: Tensor, n_classes: int, norm: float = 1.1) -> Tensor:
    """Weights ``1 / log(norm + frequency)`` of the classes present in ``target``; 0 for absent ones."""
    valid = target[(target >= 0) & (target < n_classes)]
    hist = torch.bincount(valid.flatten(), minlength=n_classes).float()
    weights = 1.0 / torch.log(hist / hist.sum().clamp(min=1) + norm)
    weights[hist == 0] = 0.0
    return weights
