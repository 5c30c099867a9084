"""Drawing predictions on images."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np


def color_palette(n: int) -> List[Tuple[int, int, int]]:
    """``n`` distinct colours: the PASCAL VOC palette (class ``i`` from the bits of ``i``), as BGR."""
    colors = []
    for i in range(n):
        r = g = b = 0
        c = i
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        colors.append((b, g, r))
    return colors


def draw_detections(image: np.ndarray, boxes: np.ndarray, labels: Sequence[int], scores: Sequence[float],
                    names: Sequence[str], masks: Optional[np.ndarray] = None, mask_weight: float = 0.5) -> np.ndarray:
    """A copy of ``image`` (BGR) with each box, its class name and score drawn; with ``masks``
    (``N x H x W`` binary, at the image's size), each mask blended in its class colour first."""
    canvas = image.copy()
    colors = color_palette(max(len(names), 1) + 1)
    font, scale, thickness = cv2.FONT_HERSHEY_PLAIN, 1.0, 1
    for mask, label in zip(masks if masks is not None else [], labels):
        inside = mask.astype(bool)
        color = np.array(colors[int(label) % len(colors)], np.float32)
        canvas[inside] = ((1 - mask_weight) * canvas[inside] + mask_weight * color).astype(np.uint8)
    for box, label, score in zip(boxes.astype(int), labels, scores):
        color = colors[int(label) % len(colors)]
        x1, y1, x2, y2 = (int(v) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, 2)
        name = names[int(label)] if int(label) < len(names) else str(int(label))
        text = f"{name}: {score:.2f}"
        (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
        cv2.rectangle(canvas, (x1, y1), (x1 + tw + 3, y1 + th + 4), color, -1)
        cv2.putText(canvas, text, (x1 + 1, y1 + th + 2), font, scale, (255, 255, 255), thickness)
    return canvas


def draw_legend(image: np.ndarray, entries: Sequence[Tuple[str, Tuple[int, int, int]]]) -> np.ndarray:
    """A copy of ``image`` (BGR) with a legend in its top-left corner: one colour swatch and name
    per ``(name, bgr colour)`` entry."""
    canvas = image.copy()
    font, scale, thickness = cv2.FONT_HERSHEY_PLAIN, 1.0, 1
    (_, th), _ = cv2.getTextSize("Ag", font, scale, thickness)
    row = th + 8
    for i, (name, color) in enumerate(entries):
        top = 4 + i * row
        (tw, _), _ = cv2.getTextSize(name, font, scale, thickness)
        cv2.rectangle(canvas, (4, top), (4 + row + tw + 6, top + row - 2), (255, 255, 255), -1)
        cv2.rectangle(canvas, (6, top + 2), (4 + row - 4, top + row - 4), tuple(int(c) for c in color), -1)
        cv2.putText(canvas, name, (4 + row, top + th + 3), font, scale, (0, 0, 0), thickness)
    return canvas
