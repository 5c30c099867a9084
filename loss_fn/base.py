"""Base of the loss functions and their registry."""
from __future__ import annotations

import argparse
from typing import Any

import torch
from torch import Tensor, nn

from utils.registry import Registry

# one entry per task (``loss.category``); each task loss may select among its own variants
LOSS_REGISTRY = Registry("loss category", option="loss.category")


class BaseCriterion(nn.Module):
    """``criterion(prediction, target) -> scalar loss``."""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return parser

    def forward(self, prediction: Any, target: Any) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError


def batch_class_weights(target: Tensor, n_classes: int, norm: float = 1.1) -> Tensor:
    """Weights ``1 / log(norm + frequency)`` of the classes present in ``target``; 0 for absent ones."""
    valid = target[(target >= 0) & (target < n_classes)]
    hist = torch.bincount(valid.flatten(), minlength=n_classes).float()
    weights = 1.0 / torch.log(hist / hist.sum().clamp(min=1) + norm)
    weights[hist == 0] = 0.0
    return weights
