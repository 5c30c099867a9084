"""Segmentation losses (``loss.category: segmentation``), selected by ``loss.segmentation.name``:
``cross_entropy``."""
from __future__ import annotations

import argparse
from typing import Any, Tuple, Union

import torch.nn.functional as F
from torch import Tensor

from loss_fn.base import LOSS_REGISTRY, BaseCriterion, TaskLoss, batch_class_weights
from utils.opts import add_options
from utils.registry import Registry

SEGMENTATION_LOSS_REGISTRY = Registry("segmentation loss", option="loss.segmentation.name")


@SEGMENTATION_LOSS_REGISTRY.register("cross_entropy")
class SegmentationCrossEntropy(BaseCriterion):
    """Pixel-wise cross-entropy that skips ``loss.ignore_idx``; logits of another size than the
    mask are resized to it (nearest). With an auxiliary output (training), the loss is
    ``0.5 * (CE(main) + aux_weight * CE(aux))``, as in the reference."""

    def __init__(self, opts: Any) -> None:
        super().__init__()
        self.ignore_index = int(getattr(opts, "loss.ignore_idx"))
        self.aux_weight = float(getattr(opts, "loss.segmentation.cross_entropy_aux_weight"))
        self.class_weights = bool(getattr(opts, "loss.segmentation.cross_entropy_class_weights"))

    def _ce(self, logits: Tensor, target: Tensor, weight: Any) -> Tensor:
        if logits.shape[-2:] != target.shape[-2:]:
            logits = F.interpolate(logits, size=target.shape[-2:], mode="nearest")
        return F.cross_entropy(logits.float(), target, weight=weight, ignore_index=self.ignore_index)

    def forward(self, prediction: Union[Tensor, Tuple[Tensor, Tensor]], target: Tensor) -> Tensor:
        main, aux = (prediction[0], prediction[1]) if isinstance(prediction, (tuple, list)) else (prediction, None)
        weight = None
        if self.class_weights and self.training:
            weight = batch_class_weights(target, main.shape[1]).to(main.device)
        loss = self._ce(main, target, weight)
        if aux is not None and self.training:
            loss = 0.5 * (loss + self.aux_weight * self._ce(aux, target, weight))
        return loss

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Segmentation cross-entropy (loss.segmentation.name: cross_entropy)")
        add_options(group, "--loss.segmentation", [
            ("cross-entropy-aux-weight", 0.4, "weight of the auxiliary head's loss"),
            ("cross-entropy-class-weights", False, "weight classes by their inverse log-frequency in the batch"),
        ])
        return parser


@LOSS_REGISTRY.register("segmentation")
class SegmentationLoss(TaskLoss):
    """The segmentation loss named by ``loss.segmentation.name``."""

    task, variants, default = "segmentation", SEGMENTATION_LOSS_REGISTRY, "cross_entropy"
