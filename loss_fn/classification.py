"""Classification losses (``loss.category: classification``), selected by ``loss.classification.name``:
``cross_entropy`` and ``label_smoothing``."""
from __future__ import annotations

import argparse
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from loss_fn.base import LOSS_REGISTRY, BaseCriterion, TaskLoss, batch_class_weights
from utils.opts import add_options
from utils.registry import Registry

CLASSIFICATION_LOSS_REGISTRY = Registry("classification loss", option="loss.classification.name")


@CLASSIFICATION_LOSS_REGISTRY.register("cross_entropy")
class CrossEntropy(BaseCriterion):
    """Cross-entropy over ``N x C`` logits.

    The target is ``N`` class indices, or ``N x C`` class probabilities (the soft targets of MixUp
    and CutMix): then the loss is ``sum_c(-q_c log p_c)``, timm's SoftTargetCrossEntropy. Class
    weights, when asked for, follow each row's largest target."""

    smoothing = 0.0

    def __init__(self, opts: Any) -> None:
        super().__init__()
        self.ignore_index = int(getattr(opts, "loss.ignore_idx"))
        self.class_weights = bool(getattr(opts, "loss.classification.cross_entropy_class_weights"))

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        soft = target.is_floating_point()
        if soft:  # class probabilities, computed in float32; no index to ignore
            prediction, target = prediction.float(), target.float()
        weight = None
        if self.class_weights and self.training:
            classes = target.argmax(dim=1) if soft else target
            weight = batch_class_weights(classes, prediction.shape[1]).to(prediction.dtype)
        smoothing = self.smoothing if self.training else 0.0
        ignore = {} if soft else {"ignore_index": self.ignore_index}
        return F.cross_entropy(prediction, target, weight=weight, label_smoothing=smoothing, **ignore)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Cross-entropy (loss.classification.name: cross_entropy, label_smoothing)")
        add_options(group, "--loss.classification", [
            ("cross-entropy-class-weights", False, "weight classes by their inverse log-frequency in the batch"),
        ])
        return parser

    def extra_repr(self) -> str:
        return f"smoothing={self.smoothing}"


@CLASSIFICATION_LOSS_REGISTRY.register("label_smoothing")
class LabelSmoothingCrossEntropy(CrossEntropy):
    """Cross-entropy with label smoothing ``s`` during training: ``(1 - s) * NLL + s / C *
    sum_c(-log p_c)`` (soft targets ``q`` become ``(1 - s) * q + s / C``); in eval mode plain
    cross-entropy."""

    def __init__(self, opts: Any) -> None:
        super().__init__(opts)
        self.smoothing = float(getattr(opts, "loss.classification.label_smoothing_factor"))

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Label smoothing (loss.classification.name: label_smoothing)")
        add_options(group, "--loss.classification", [
            ("label-smoothing-factor", 0.1, "label smoothing of label_smoothing"),
        ])
        return parser


@LOSS_REGISTRY.register("classification")
class ClassificationLoss(TaskLoss):
    """The classification loss named by ``loss.classification.name``."""

    task, variants, default = "classification", CLASSIFICATION_LOSS_REGISTRY, "cross_entropy"
