"""COCO images with masks of PASCAL VOC's 20 classes, to add to VOC training
(``dataset.pascal.use_coco_data`` with ``dataset.pascal.coco_root_dir`` = the output folder).

For every image of the split: each instance of a COCO category that is a VOC class (matched by
name) is painted with the VOC index, in annotation order, on the pixels still background (the first instance
keeps a pixel both cover); other categories stay background. Images with a side under
``min_side`` pixels, and images left with background only, are not used. Output:
``rgb_<split>/<file>`` (the image, copied), ``annot_<split>/<stem>.png`` (8-bit class indices) and
``<split>_2017.txt`` (``rgb_<split>/<file> annot_<split>/<stem>.png`` per line). Images already in
place are kept (a preparation by ``move`` can be run again); existing masks or list stop it before
it writes anything, unless ``overwrite`` (``--overwrite``) is given.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from data.prepare.files import place_file, write_lines
from utils import logger
from utils.errors import DataError
from utils.outputs import refuse_to_replace

# the COCO categories that are VOC classes, by name: COCO's name -> VOC's (data.datasets.pascal.VOC_CLASSES)
COCO_TO_VOC_NAMES: Dict[str, str] = {
    "airplane": "aeroplane", "bicycle": "bicycle", "bird": "bird", "boat": "boat", "bottle": "bottle", "bus": "bus",
    "car": "car", "cat": "cat", "chair": "chair", "cow": "cow", "dining table": "diningtable", "dog": "dog",
    "horse": "horse", "motorcycle": "motorbike", "person": "person", "potted plant": "potted_plant",
    "sheep": "sheep", "couch": "sofa", "train": "train", "tv": "tv_monitor",
}


def voc_labels(coco: Any, source: Path) -> Dict[int, int]:
    """COCO category id -> VOC class index, for the categories of ``coco`` that are VOC classes,
    matched by name (:func:`data.datasets.labels.labels_by_name`); an error when there is none."""
    from data.datasets.labels import labels_by_name
    from data.datasets.pascal import VOC_CLASSES

    ids = [c for c in sorted(coco.getCatIds()) if coco.cats[c]["name"] in COCO_TO_VOC_NAMES]
    if not ids:
        raise DataError(f"{source}: none of its categories is a VOC class (by name: {', '.join(COCO_TO_VOC_NAMES)})")
    names = [COCO_TO_VOC_NAMES[coco.cats[c]["name"]] for c in ids]
    return dict(zip(ids, labels_by_name(names, VOC_CLASSES, str(source))))


def voc_mask(coco: Any, image_id: int, labels: Dict[int, int]) -> np.ndarray:
    """The VOC-class mask of one COCO image (see the module's description); ``labels`` from :func:`voc_labels`."""
    info = coco.imgs[image_id]
    mask = np.zeros((info["height"], info["width"]), dtype=np.uint8)
    for annotation in coco.imgToAnns.get(image_id, []):
        label = labels.get(annotation["category_id"])
        if label is None:
            continue
        covered = coco.annToMask(annotation).astype(bool)
        mask[covered & (mask == 0)] = label
    return mask


def prepare_coco_voc(coco_root: Path, out: Path, split: str = "train", min_side: int = 256,
                     method: str = "copy", overwrite: bool = False) -> int:
    """Write the images, masks and ``<split>_2017.txt`` of the COCO ``split`` under ``out``;
    returns the number of images listed. Existing masks or list are an
    :class:`~utils.errors.OutputExistsError` unless ``overwrite``."""
    from data.datasets.coco import coco_image_dir
    from data.datasets.coco_annotations import load_coco
    from data.prepare.sbd import write_mask

    coco_root, out = Path(coco_root), Path(out)
    rgb, annot = f"rgb_{split}", f"annot_{split}"
    if not overwrite:
        refuse_to_replace([out / annot, out / f"{split}_2017.txt"], "overwrite")
    annotation_file = coco_root / "annotations" / f"instances_{split}2017.json"
    coco = load_coco(annotation_file)
    labels = voc_labels(coco, annotation_file)
    image_dir = coco_image_dir(coco_root, f"{split}2017", "--coco")
    lines: List[str] = []
    small = empty = 0
    for image_id in sorted(coco.imgs):
        info = coco.imgs[image_id]
        if min(info["height"], info["width"]) < min_side:
            small += 1
            continue
        mask = voc_mask(coco, image_id, labels)
        if len(np.unique(mask)) < 2:
            empty += 1
            continue
        name = info["file_name"]
        source = image_dir / name
        if not source.is_file() and not (out / rgb / name).exists():
            raise DataError(f"{source} is listed in the annotations but missing")
        place_file(source, out / rgb / name, method)
        write_mask(mask, out / annot / f"{Path(name).stem}.png")
        lines.append(f"{rgb}/{name} {annot}/{Path(name).stem}.png")
    list_file = write_lines(out / f"{split}_2017.txt", lines)
    logger.log(f"COCO {split} in VOC classes: {len(lines)} images listed in {list_file}; left out {small} "
               f"with a side under {min_side} px and {empty} without a VOC class")
    return len(lines)
