"""A detector's predictions as evaluation needs them: boxes in pixels of the original image and
binary masks at its size."""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from engine.eval_setup import fit_to_multiple
from utils.runtime import Runtime

Found = Tuple[np.ndarray, np.ndarray, np.ndarray]


def predict_boxes(model: nn.Module, images: torch.Tensor, multiple: int = 32) -> list:
    """The model's detections for a batch. Sides that are not multiples of ``multiple`` are first
    resized down to the nearest ones, as the original evaluation does (unless the model resizes
    its inputs itself)."""
    if model.resizes_inputs:
        return model.predict(images)
    return model.predict(fit_to_multiple(images, multiple))


def to_pixels(found: Sequence[Any], sizes: Sequence[Tuple[int, int]]) -> List[Found]:
    """``(boxes, labels, scores)`` for each image's detections, the boxes (fractions of the input)
    in pixels of its original ``(height, width)`` of ``sizes``."""
    results = []
    for detections, (height, width) in zip(found, sizes):
        boxes = detections.boxes.float().cpu().numpy().copy()
        boxes[:, 0::2] = np.clip(boxes[:, 0::2] * width, 0, width)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2] * height, 0, height)
        results.append((boxes, detections.labels.cpu().numpy(), detections.scores.float().cpu().numpy()))
    return results


def masks_in_pixels(found: Sequence[Any], sizes: Sequence[Tuple[int, int]]) -> List[Optional[np.ndarray]]:
    """Each image's binary instance masks (``N x height x width``, probabilities resized to its
    original size and thresholded at 0.5), or ``None`` for a detector without masks."""
    results: List[Optional[np.ndarray]] = []
    for detections, (height, width) in zip(found, sizes):
        masks = detections.masks
        if masks is None:
            results.append(None)
            continue
        masks = masks.float()
        if len(masks) and tuple(masks.shape[-2:]) != (height, width):
            masks = torch.nn.functional.interpolate(masks[:, None], size=(height, width), mode="bilinear",
                                                    align_corners=False)[:, 0]
        results.append((masks.reshape(-1, height, width) >= 0.5).cpu().numpy())
    return results


def detect(model: nn.Module, images: torch.Tensor, runtime: Runtime,
           sizes: Sequence[Tuple[int, int]]) -> Tuple[List[Found], List[Optional[np.ndarray]]]:
    """:func:`predict_boxes` on the runtime's device, then :func:`to_pixels` and :func:`masks_in_pixels`."""
    with runtime.autocast():
        found = predict_boxes(model, images.to(runtime.device))
    return to_pixels(found, sizes), masks_in_pixels(found, sizes)
