"""Matching ground-truth boxes to SSD anchors."""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor
from torchvision.ops import box_iou

from cvnets.misc.boxes import center_to_corner, corner_to_center, encode


class SSDMatcher:
    """Give each anchor the box it overlaps most, and each box the anchor it overlaps most (so
    every box has at least one); anchors whose best overlap is below ``iou_threshold`` become
    background (label 0). Returns the encoded regression targets and the labels per anchor."""

    def __init__(self, center_variance: float = 0.1, size_variance: float = 0.2, iou_threshold: float = 0.5) -> None:
        self.center_variance, self.size_variance, self.iou_threshold = center_variance, size_variance, iou_threshold

    def __call__(self, gt_boxes_corner: Tensor, gt_labels: Tensor, anchors_center: Tensor) -> Tuple[Tensor, Tensor]:
        gt_boxes_corner = torch.as_tensor(gt_boxes_corner, dtype=torch.float32).reshape(-1, 4)
        gt_labels = torch.as_tensor(gt_labels, dtype=torch.int64).reshape(-1)
        n_anchors = anchors_center.shape[0]
        if gt_labels.numel() == 0:
            targets = encode(anchors_center, anchors_center, self.center_variance, self.size_variance)
            return targets, torch.zeros(n_anchors, dtype=torch.int64)
        ious = box_iou(gt_boxes_corner, center_to_corner(anchors_center))  # boxes x anchors
        best_iou, best_box = ious.max(dim=0)
        best_anchor = ious.argmax(dim=1)
        for box_index, anchor_index in enumerate(best_anchor.tolist()):  # in order: a later box wins a tie
            best_box[anchor_index] = box_index
        best_iou[best_anchor] = 2.0
        labels = gt_labels[best_box].clone()
        labels[best_iou < self.iou_threshold] = 0
        matched = corner_to_center(gt_boxes_corner[best_box])
        return encode(matched, anchors_center, self.center_variance, self.size_variance), labels
