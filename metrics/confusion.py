"""Segmentation metrics from a confusion matrix: mean IoU, mean class accuracy, pixel accuracy."""
from __future__ import annotations

from typing import Any, Dict

import torch
from torch import Tensor

from metrics.base import METRIC_REGISTRY, Metric


def confusion_matrix(prediction: Tensor, target: Tensor, n_classes: int) -> Tensor:
    """``n x n`` counts of (ground truth, predicted) label pairs; targets outside ``[0, n)`` (the
    ignore index) are skipped."""
    valid = (target >= 0) & (target < n_classes)
    pairs = target[valid].long() * n_classes + prediction[valid].long()
    return torch.bincount(pairs, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def segmentation_scores(matrix: Tensor) -> Dict[str, Any]:
    """``mIoU``, ``mAcc`` and ``aAcc`` in percent, and the per-class IoU (``None`` for a class that
    is absent from both the prediction and the ground truth; it does not count in the means)."""
    matrix = matrix.double()
    correct = matrix.diag()
    gt, predicted = matrix.sum(1), matrix.sum(0)
    union = gt + predicted - correct
    iou = torch.where(union > 0, correct / union.clamp(min=1), torch.full_like(correct, float("nan")))
    accuracy = torch.where(gt > 0, correct / gt.clamp(min=1), torch.full_like(correct, float("nan")))
    total = matrix.sum()
    return {"mIoU": float(100 * iou.nanmean()) if (union > 0).any() else 0.0,
            "mAcc": float(100 * accuracy.nanmean()) if (gt > 0).any() else 0.0,
            "aAcc": float(100 * correct.sum() / total) if total > 0 else 0.0,
            "class_iou": [None if torch.isnan(v) else float(100 * v) for v in iou]}


@METRIC_REGISTRY.register("iou")
class MeanIoU(Metric):
    """Mean IoU over the split (in percent), from a confusion matrix summed over batches and ranks."""

    def __init__(self, opts: Any = None) -> None:
        self.n_classes = int(getattr(opts, "model.segmentation.n_classes") or 0) if opts is not None else 0
        super().__init__(opts)

    def state_size(self) -> int:
        return max(self.n_classes, 1) ** 2

    def update(self, prediction: Any, target: Any, loss: Tensor, batch_size: int) -> None:
        logits = prediction[0] if isinstance(prediction, (tuple, list)) else prediction
        if self.n_classes == 0:  # the class count is only known from the first prediction
            self.n_classes = logits.shape[1]
            if self.state.numel() != self.n_classes ** 2:  # else: sums restored from a checkpoint
                self.state = torch.zeros(self.n_classes ** 2, dtype=torch.float64)
        if logits.shape[-2:] != target.shape[-2:]:
            logits = torch.nn.functional.interpolate(logits, size=target.shape[-2:], mode="nearest")
        self.add(confusion_matrix(logits.argmax(1), target, self.n_classes).flatten())

    def value(self) -> float:
        return segmentation_scores(self.state.view(self.n_classes, self.n_classes))["mIoU"]
