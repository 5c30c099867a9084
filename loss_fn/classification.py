"""Classification losses: ``cross_entropy`` and ``label_smoothing``."""
from __future__ import annotations

import argparse
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from loss_fn.base import LOSS_REGISTRY, BaseCriterion, batch_class_weights
from utils.errors import ConfigError
from utils.opts import add_options

CLASSIFICATION_LOSSES = ("cross_entropy", "label_smoothing")


@LOSS_REGISTRY.register("classification")
class ClassificationLoss(BaseCriterion):
    """Cross-entropy over ``N x C`` logits, with optional label smoothing during training:
    ``(1 - s) * NLL + s / C * sum_c(-log p_c)``; in eval mode plain cross-entropy.

    The target is ``N`` class indices, or ``N x C`` class probabilities (the soft targets of MixUp
    and CutMix): then the loss is ``sum_c(-q_c log p_c)`` with ``q = (1 - s) * target + s / C``,
    timm's SoftTargetCrossEntropy on its smoothed mixed targets. Class weights, when asked for,
    follow each row's largest target."""

    def __init__(self, opts: Any) -> None:
        super().__init__()
        name = getattr(opts, "loss.classification.name")
        if name not in CLASSIFICATION_LOSSES:
            raise ConfigError(f"loss.classification.name {name!r}: choose one of {', '.join(CLASSIFICATION_LOSSES)}")
        self.name = name
        self.smoothing = float(getattr(opts, "loss.classification.label_smoothing_factor")) \
            if name == "label_smoothing" else 0.0
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
        group = parser.add_argument_group("Classification loss (loss.category: classification)")
        add_options(group, "--loss.classification", [
            ("name", "cross_entropy", "loss", dict(choices=CLASSIFICATION_LOSSES)),
            ("label-smoothing-factor", 0.1, "label smoothing of label_smoothing"),
            ("cross-entropy-class-weights", False, "weight classes by their inverse log-frequency in the batch"),
        ])
        return parser

    def extra_repr(self) -> str:
        return f"name={self.name}, smoothing={self.smoothing}"
