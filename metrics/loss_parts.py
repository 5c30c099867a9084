"""The parts of a loss that a model computes itself, one metric per part (``stats.name:
[loss, loss_classifier, ...]``): each averages ``prediction[part]`` over the samples of a split,
for models whose forward returns their losses as a dict (Mask R-CNN)."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from metrics.base import METRIC_REGISTRY, LossMetric

MASK_RCNN_LOSS_PARTS = ("loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg", "loss_mask")


class LossPart(LossMetric):
    """The mean of one entry of the model's loss dict (NaN when the model returned none)."""

    part = ""

    def update(self, prediction: Any, target: Any, loss: Tensor, batch_size: int) -> None:
        if isinstance(prediction, dict) and self.part in prediction:
            self.add(torch.tensor([float(prediction[self.part]) * batch_size, batch_size]))


for _part in MASK_RCNN_LOSS_PARTS:
    METRIC_REGISTRY.register(_part)(type("".join(word.title() for word in _part.split("_")), (LossPart,),
                                         {"part": _part}))
