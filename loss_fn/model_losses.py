"""The losses a detector computes itself (``loss.detection.name: mask_rcnn_loss``)."""
from __future__ import annotations

from typing import Any, Dict

from torch import Tensor

from loss_fn.base import BaseCriterion
from loss_fn.detection import DETECTION_LOSS_REGISTRY


@DETECTION_LOSS_REGISTRY.register("mask_rcnn_loss")
class ModelLossSum(BaseCriterion):
    """The sum of the loss dict a two-stage detector returns for its targets (Mask R-CNN: RPN
    objectness and box regression, RoI classification, box regression and mask), each weighted 1
    as in torchvision and mmdetection. The parts are logged by the metrics of the same names
    (``stats.name: [loss, loss_objectness, ...]``)."""

    def __init__(self, opts: Any) -> None:
        super().__init__()

    def forward(self, prediction: Dict[str, Tensor], target: Any) -> Tensor:
        return sum(value.float() for value in prediction.values())
