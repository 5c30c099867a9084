"""Top-k accuracy (in percent)."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from metrics.base import METRIC_REGISTRY, Metric


def hard_labels(target: Tensor) -> Tensor:
    """Class indices: ``target`` itself, or for soft targets (``N x C`` probabilities, as MixUp
    and CutMix make them) each row's most probable class."""
    return target.argmax(dim=1) if target.is_floating_point() and target.dim() == 2 else target


def topk_correct(logits: Tensor, target: Tensor, k: int) -> int:
    """How many rows of ``logits`` have ``target`` (for soft targets, its most probable class)
    among their ``k`` highest scores."""
    target = hard_labels(target)
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    return int((top == target.view(-1, 1)).any(dim=1).sum())


class TopK(Metric):
    k = 1

    def update(self, prediction: Any, target: Any, loss: Tensor, batch_size: int) -> None:
        logits = prediction[0] if isinstance(prediction, (tuple, list)) else prediction
        self.add(torch.tensor([topk_correct(logits, target, self.k), hard_labels(target).numel()]))

    def value(self) -> float:
        return float(100.0 * self.state[0] / self.state[1]) if self.state[1] else float("nan")


@METRIC_REGISTRY.register("top1")
class Top1(TopK):
    k = 1


@METRIC_REGISTRY.register("top5")
class Top5(TopK):
    k = 5
