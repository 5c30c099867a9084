"""What a detector's ``predict`` returns for one image."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from torch import Tensor


@dataclass
class Detections:
    """One image's detections: ``labels`` (N,), ``scores`` (N,) and ``boxes`` (N x 4, corner form,
    as fractions of the input's width and height); an instance segmentation model adds ``masks``
    (N x H x W probabilities at the input's size)."""
    labels: Tensor
    scores: Tensor
    boxes: Tensor
    masks: Optional[Tensor] = None
