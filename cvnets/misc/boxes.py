"""Box coding of the SSD detector (Liu et al., 2016, Eq. 2), on top of ``torchvision.ops``.

Centre form is ``(cx, cy, w, h)``, corner form ``(x1, y1, x2, y2)``, both as fractions of the
image size. A box is encoded against an anchor as
``((cx - acx) / aw / center_variance, (cy - acy) / ah / center_variance,
log(w / aw) / size_variance, log(h / ah) / size_variance)``.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import box_convert


def center_to_corner(boxes: Tensor) -> Tensor:
    return box_convert(boxes, "cxcywh", "xyxy")


def corner_to_center(boxes: Tensor) -> Tensor:
    return box_convert(boxes, "xyxy", "cxcywh")


def encode(boxes_center: Tensor, anchors_center: Tensor, center_variance: float, size_variance: float) -> Tensor:
    """Regression targets of centre-form ``boxes`` against centre-form ``anchors``."""
    centers = (boxes_center[..., :2] - anchors_center[..., :2]) / anchors_center[..., 2:] / center_variance
    sizes = torch.log(boxes_center[..., 2:] / anchors_center[..., 2:]) / size_variance
    return torch.cat((centers, sizes), dim=-1)


def decode(locations: Tensor, anchors_center: Tensor, center_variance: float, size_variance: float) -> Tensor:
    """Centre-form boxes from predicted ``locations`` (the inverse of :func:`encode`)."""
    centers = locations[..., :2] * center_variance * anchors_center[..., 2:] + anchors_center[..., :2]
    sizes = torch.exp(locations[..., 2:] * size_variance) * anchors_center[..., 2:]
    return torch.cat((centers, sizes), dim=-1)
