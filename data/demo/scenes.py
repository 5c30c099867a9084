"""Pictures of bundled digits pasted at random places and sizes on plain, gradient or textured
backgrounds; shared by the detection and segmentation demo sets."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import cv2
import numpy as np


@dataclass
class PastedDigit:
    digit: int
    box: Tuple[int, int, int, int]  # tight box of the strokes, corner form, pixels
    alpha: np.ndarray  # coverage of the digit over the whole picture, 0..1


def background(rng: np.random.Generator, size: int, dark: bool) -> np.ndarray:
    """A plain, gradient or blotchy textured background, dark or light."""
    low, high = (0, 90) if dark else (150, 255)
    kind = rng.integers(3)
    if kind == 0:
        picture = np.full((size, size, 3), rng.integers(low, high, 3), np.float32)
    elif kind == 1:
        ramp = np.linspace(0, 1, size, dtype=np.float32)
        ramp = ramp[:, None] if rng.random() < 0.5 else ramp[None, :]
        start, end = rng.integers(low, high, 3), rng.integers(low, high, 3)
        picture = start + (end - start) * np.broadcast_to(ramp, (size, size))[..., None]
    else:
        coarse = rng.uniform(low, high, (rng.integers(3, 9), rng.integers(3, 9), 3)).astype(np.float32)
        picture = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    noise = rng.normal(0, 6, (size, size, 3))
    return np.clip(picture + noise, 0, 255).astype(np.float32)


def _overlaps(box: Tuple[int, ...], others: Sequence[Tuple[int, ...]]) -> bool:
    return any(not (box[2] <= o[0] or o[2] <= box[0] or box[3] <= o[1] or o[3] <= box[1]) for o in others)


def compose_scene(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray, pool: np.ndarray, size: int,
                  min_side: int, max_side: int, max_objects: int) -> Tuple[np.ndarray, List[PastedDigit]]:
    """A ``size x size`` BGR uint8 picture with 1 to ``max_objects`` non-overlapping digits drawn
    from ``pool``, bright on dark or dark on light backgrounds."""
    dark = rng.random() < 0.7
    canvas = background(rng, size, dark)
    squares: List[Tuple[int, ...]] = []
    pasted: List[PastedDigit] = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(20):
            side = int(rng.integers(min_side, max_side + 1))
            x, y = (int(v) for v in rng.integers(0, size - side + 1, 2))
            if not _overlaps((x, y, x + side, y + side), squares):
                break
        else:
            continue
        index = int(rng.choice(pool))
        color = (rng.integers(170, 256, 3) if dark else rng.integers(0, 80, 3)).astype(np.float32)
        patch = cv2.resize(digits[index], (side, side), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
        region = canvas[y:y + side, x:x + side]
        canvas[y:y + side, x:x + side] = region * (1 - patch[..., None]) + color * patch[..., None]
        alpha = np.zeros((size, size), np.float32)
        alpha[y:y + side, x:x + side] = patch
        ys, xs = np.nonzero(alpha > 0.25)
        squares.append((x, y, x + side, y + side))
        pasted.append(PastedDigit(int(labels[index]), (int(xs.min()), int(ys.min()), int(xs.max()) + 1,
                                                       int(ys.max()) + 1), alpha))
    return canvas.astype(np.uint8), pasted
