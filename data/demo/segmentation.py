"""A PASCAL VOC-format segmentation set: bundled digits on plain or textured backgrounds, each
digit's pixels labelled with its class (digit + 1; 0 is background, 255 the blurred rims)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np
from PIL import Image

from data.demo.digits import load_digits, split_indices
from data.demo.scenes import PastedDigit, compose_scene
from utils.drawing import color_palette


def class_mask(pasted: List[PastedDigit], size: int, rim: int = 255) -> np.ndarray:
    """The class of each pixel: 0 background, digit + 1 where a digit covers more than half of
    it, ``rim`` on its blurred edges (coverage 0.15-0.5)."""
    mask = np.zeros((size, size), np.uint8)
    for item in pasted:
        mask[item.alpha > 0.15] = rim
        mask[item.alpha > 0.5] = item.digit + 1
    return mask


def write_segmentation_set(out: Path, n_train: int = 600, n_val: int = 120, size: int = 96, min_side: int = 28,
                           max_side: int = 56, max_objects: int = 3, seed: int = 0) -> Dict[str, int]:
    """Write ``out/VOC2012/{JPEGImages,SegmentationClassAug,SegmentationClass}`` and the lists
    ``out/VOC2012/list/{train_aug,val}.txt``. Training masks are 8-bit index images (as
    SegmentationClassAug), validation masks palette PNGs (as VOC's SegmentationClass)."""
    digits, labels = load_digits()
    train_pool, val_pool = split_indices(labels, 0.2, seed)
    rng = np.random.default_rng(seed)
    voc = out / "VOC2012"
    for folder in ("JPEGImages", "SegmentationClassAug", "SegmentationClass", "list"):
        (voc / folder).mkdir(parents=True, exist_ok=True)
    palette = np.array(color_palette(256), dtype=np.uint8)[:, ::-1].flatten().tolist()  # RGB
    counts = {}
    for split, n_images, pool, list_name in (("train", n_train, train_pool, "train_aug.txt"),
                                             ("val", n_val, val_pool, "val.txt")):
        lines = []
        for index in range(1, n_images + 1):
            picture, pasted = compose_scene(rng, digits, labels, pool, size, min_side, max_side, max_objects)
            mask = class_mask(pasted, size)
            name = f"{split}_{index:05d}"
            cv2.imwrite(str(voc / "JPEGImages" / f"{name}.jpg"), picture, [int(cv2.IMWRITE_JPEG_QUALITY), 95])
            if split == "train":
                mask_path = f"SegmentationClassAug/{name}.png"
                cv2.imwrite(str(voc / mask_path), mask)
            else:
                mask_path = f"SegmentationClass/{name}.png"
                image = Image.fromarray(mask, mode="P")
                image.putpalette(palette)
                image.save(voc / mask_path)
            lines.append(f"JPEGImages/{name}.jpg {mask_path}")
        (voc / "list" / list_name).write_text("\n".join(lines) + "\n")
        counts[split] = n_images
    return counts
