"""COCO images with masks of PASCAL VOC's 20 classes, to add to VOC training
(``dataset.pascal.use_coco_data`` with ``dataset.pascal.coco_root_dir`` = the output folder).

For every image of the split: each instance of a COCO category that is a VOC class is painted
with the VOC index, in annotation order, on the pixels still background (the first instance
keeps a pixel both cover); other categories stay background. Images with a side under
``min_side`` pixels, and images left with background only, are not used. Output:
``rgb_<split>/<file>`` (the image, copied), ``annot_<split>/<stem>.png`` (8-bit class indices) and
``<split>_2017.txt`` (``rgb_<split>/<file> annot_<split>/<stem>.png`` per line).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from data.prepare.files import place_file, write_lines
from utils import logger
from utils.errors import DataError

# COCO category id -> PASCAL VOC class index (data.datasets.pascal.VOC_CLASSES)
COCO_TO_VOC: Dict[int, int] = {
    5: 1,    # airplane -> aeroplane
    2: 2,    # bicycle
    16: 3,   # bird
    9: 4,    # boat
    44: 5,   # bottle
    6: 6,    # bus
    3: 7,    # car
    17: 8,   # cat
    62: 9,   # chair
    21: 10,  # cow
    67: 11,  # dining table -> diningtable
    18: 12,  # dog
    19: 13,  # horse
    4: 14,   # motorcycle -> motorbike
    1: 15,   # person
    64: 16,  # potted plant -> potted_plant
    20: 17,  # sheep
    63: 18,  # couch -> sofa
    7: 19,   # train
    72: 20,  # tv -> tv_monitor
}


def voc_mask(coco: Any, image_id: int) -> np.ndarray:
    """The VOC-class mask of one COCO image (see the module's description)."""
    info = coco.imgs[image_id]
    mask = np.zeros((info["height"], info["width"]), dtype=np.uint8)
    for annotation in coco.imgToAnns.get(image_id, []):
        label = COCO_TO_VOC.get(annotation["category_id"])
        if label is None:
            continue
        covered = coco.annToMask(annotation).astype(bool)
        mask[covered & (mask == 0)] = label
    return mask


def prepare_coco_voc(coco_root: Path, out: Path, split: str = "train", min_side: int = 256,
                     method: str = "copy") -> int:
    """Write the images, masks and ``<split>_2017.txt`` of the COCO ``split`` under ``out``;
    returns the number of images listed."""
    from data.datasets.coco import coco_image_dir, load_coco
    from data.prepare.sbd import write_mask

    coco_root, out = Path(coco_root), Path(out)
    coco = load_coco(coco_root / "annotations" / f"instances_{split}2017.json")
    image_dir = coco_image_dir(coco_root, f"{split}2017", "--coco")
    rgb, annot = f"rgb_{split}", f"annot_{split}"
    lines: List[str] = []
    small = empty = 0
    for image_id in sorted(coco.imgs):
        info = coco.imgs[image_id]
        if min(info["height"], info["width"]) < min_side:
            small += 1
            continue
        mask = voc_mask(coco, image_id)
        if len(np.unique(mask)) < 2:
            empty += 1
            continue
        name = info["file_name"]
        source = image_dir / name
        if not source.is_file():
            raise DataError(f"{source} is listed in the annotations but missing")
        place_file(source, out / rgb / name, method)
        write_mask(mask, out / annot / f"{Path(name).stem}.png")
        lines.append(f"{rgb}/{name} {annot}/{Path(name).stem}.png")
    list_file = write_lines(out / f"{split}_2017.txt", lines)
    logger.log(f"COCO {split} in VOC classes: {len(lines)} images listed in {list_file}; left out {small} "
               f"with a side under {min_side} px and {empty} without a VOC class")
    return len(lines)
