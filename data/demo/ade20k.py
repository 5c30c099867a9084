"""An ADE20K-format segmentation set (the ``ADEChallengeData2016`` layout): bundled digits on plain
or textured backgrounds. Annotations follow ADE20K's convention that 0 is "other" (ignored after
the reduce-zero-label rule): 1 is the background, digit + 2 a digit's pixels, 0 the blurred rims;
reduced, they are the 11 classes of the PASCAL-format demo set (0 background, digit + 1)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import cv2
import numpy as np

from data.demo.digits import load_digits, split_indices
from data.demo.scenes import compose_scene
from data.demo.segmentation import class_mask


def write_ade20k_set(out: Path, n_train: int = 600, n_val: int = 120, size: int = 96, min_side: int = 28,
                     max_side: int = 56, max_objects: int = 3, seed: int = 0) -> Dict[str, int]:
    """Write ``out/ADEChallengeData2016/images/{training,validation}/*.jpg`` and
    ``out/ADEChallengeData2016/annotations/{training,validation}/*.png`` (8-bit class indices);
    validation pictures use digits the training pictures never show. Returns the image counts."""
    digits, labels = load_digits()
    train_pool, val_pool = split_indices(labels, 0.2, seed)
    rng = np.random.default_rng(seed)
    root = out / "ADEChallengeData2016"
    counts = {}
    for split, n_images, pool in (("training", n_train, train_pool), ("validation", n_val, val_pool)):
        images, annotations = root / "images" / split, root / "annotations" / split
        images.mkdir(parents=True, exist_ok=True)
        annotations.mkdir(parents=True, exist_ok=True)
        for index in range(1, n_images + 1):
            picture, pasted = compose_scene(rng, digits, labels, pool, size, min_side, max_side, max_objects)
            classes = class_mask(pasted, size)  # 0 background, digit + 1, 255 rims
            mask = np.where(classes == 255, 0, classes.astype(np.int16) + 1).astype(np.uint8)
            name = f"ADE_{'train' if split == 'training' else 'val'}_{index:08d}"
            cv2.imwrite(str(images / f"{name}.jpg"), picture, [int(cv2.IMWRITE_JPEG_QUALITY), 95])
            cv2.imwrite(str(annotations / f"{name}.png"), mask)
        counts[split] = n_images
    return counts
