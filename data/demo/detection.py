"""A COCO-format detection and instance segmentation set: bundled digits pasted on plain or
textured backgrounds, each with its box and its mask (polygons, or RLE for digits with holes)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import cv2
import numpy as np

from data.demo.digits import load_digits, split_indices
from data.demo.scenes import compose_scene

CATEGORIES = [{"id": d + 1, "name": str(d), "supercategory": "digit"} for d in range(10)]


def coco_segmentation(mask: np.ndarray) -> Any:
    """COCO polygons (one per outer contour) for a mask without holes, compressed RLE otherwise
    (polygons cannot leave a hole out)."""
    from pycocotools import mask as mask_utils

    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    holes = hierarchy is not None and bool((hierarchy[0][:, 3] >= 0).any())
    if not holes and contours and all(len(c) >= 3 for c in contours):
        return [c.reshape(-1).astype(float).tolist() for c in contours]
    rle = mask_utils.encode(np.asfortranarray(mask))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def write_detection_set(out: Path, n_train: int = 800, n_val: int = 160, size: int = 128, min_side: int = 24,
                        max_side: int = 56, max_objects: int = 4, seed: int = 0) -> Dict[str, int]:
    """Write ``out/images/{train,val}2017/*.jpg`` and ``out/annotations/instances_{train,val}2017.json``
    (boxes and masks); validation pictures use digits the training pictures never show. Returns the
    number of boxes."""
    digits, labels = load_digits()
    train_pool, val_pool = split_indices(labels, 0.2, seed)
    rng = np.random.default_rng(seed)
    counts = {}
    for split, n_images, pool in (("train", n_train, train_pool), ("val", n_val, val_pool)):
        folder = out / "images" / f"{split}2017"
        folder.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for image_id in range(1, n_images + 1):
            picture, pasted = compose_scene(rng, digits, labels, pool, size, min_side, max_side, max_objects)
            for item in pasted:
                x1, y1, x2, y2 = item.box
                mask = (item.alpha > 0.25).astype(np.uint8)  # the pixels the box is tight around
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": item.digit + 1,
                                    "iscrowd": 0, "bbox": [x1, y1, x2 - x1, y2 - y1], "area": int(mask.sum()),
                                    "segmentation": coco_segmentation(mask)})
            name = f"{split}_{image_id:05d}.jpg"
            cv2.imwrite(str(folder / name), picture, [int(cv2.IMWRITE_JPEG_QUALITY), 95])
            images.append({"id": image_id, "file_name": name, "width": size, "height": size})
        (out / "annotations").mkdir(parents=True, exist_ok=True)
        document = {"images": images, "annotations": annotations, "categories": CATEGORIES}
        (out / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(document))
        counts[split] = len(annotations)
    return counts
