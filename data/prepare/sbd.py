"""PASCAL VOC 2012 with the SBD annotations ("aug"): the lists and masks that the ``pascal``
dataset reads.

Inputs: the Semantic Boundaries Dataset (``benchmark_RELEASE/dataset``: ``cls/<id>.mat`` with
the class masks in ``GTcls.Segmentation``, ``train.txt``, ``val.txt``) and VOC 2012
(``<voc>/VOC2012/JPEGImages``, ``SegmentationClass`` palette PNGs, ``ImageSets/Segmentation``).
Output, under ``<voc>/VOC2012``: ``SegmentationClassAug/<id>.png`` (8-bit class indices, 255 for
VOC's "void" borders) and ``list/train_aug.txt`` and ``list/val.txt`` (``JPEGImages/<id>.jpg
SegmentationClassAug/<id>.png`` per line). ``train_aug`` is SBD train + SBD val + VOC train, less
VOC val (10,582 images); ``val`` is VOC val (1,449). Where VOC has its own mask it is used, being the
finer one; the other images take SBD's. Existing masks or lists stop the preparation before it
writes anything, unless ``overwrite`` (``--overwrite``) is given.
"""
from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np

from data.prepare.files import write_lines
from utils import logger
from utils.errors import DataError
from utils.image_files import write_image
from utils.outputs import refuse_to_replace

MASK_DIR = "SegmentationClassAug"


def read_ids(path: Path) -> List[str]:
    if not path.is_file():
        raise DataError(f"image list not found: {path}")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def read_sbd_mask(path: Path) -> np.ndarray:
    """The class mask of an SBD ``cls/<id>.mat`` file."""
    import scipy.io

    try:
        content = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)
        return np.asarray(content["GTcls"].Segmentation, dtype=np.uint8)
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise DataError(f"cannot read the SBD mask {path}: {exc}") from None


def write_mask(mask: np.ndarray, path: Path) -> None:
    """Write ``mask`` as an 8-bit PNG of class indices, atomically."""
    write_image(path, mask.astype(np.uint8))


def prepare_sbd(sbd: Path, voc_root: Path, overwrite: bool = False) -> dict:
    """Write the aug masks and lists (see the module's description); returns the list sizes.
    Existing masks or lists are an :class:`~utils.errors.OutputExistsError` unless ``overwrite``."""
    from data.datasets.image_io import read_mask

    sbd, voc = Path(sbd), Path(voc_root) / "VOC2012"
    if not voc.is_dir():
        raise DataError(f"{voc_root} holds no VOC2012 folder")
    if not overwrite:
        refuse_to_replace([voc / MASK_DIR, voc / "list" / "train_aug.txt", voc / "list" / "val.txt"], "overwrite")
    splits = voc / "ImageSets" / "Segmentation"
    voc_train, voc_val = read_ids(splits / "train.txt"), read_ids(splits / "val.txt")
    sbd_ids = read_ids(sbd / "train.txt") + read_ids(sbd / "val.txt")
    val_set = set(voc_val)
    train_aug = sorted(set(sbd_ids + voc_train) - val_set)
    missing = [i for i in train_aug + voc_val if not (voc / "JPEGImages" / f"{i}.jpg").is_file()]
    if missing:
        raise DataError(f"{len(missing)} images are not in {voc / 'JPEGImages'}, the first {missing[0]}.jpg")
    from_voc = from_sbd = 0
    for image_id in train_aug + voc_val:
        target = voc / MASK_DIR / f"{image_id}.png"
        voc_mask = voc / "SegmentationClass" / f"{image_id}.png"
        if voc_mask.is_file():
            write_mask(read_mask(voc_mask), target)
            from_voc += 1
        elif (sbd / "cls" / f"{image_id}.mat").is_file():
            write_mask(read_sbd_mask(sbd / "cls" / f"{image_id}.mat"), target)
            from_sbd += 1
        else:
            raise DataError(f"no mask for {image_id}: neither {voc_mask} nor {sbd / 'cls' / (image_id + '.mat')}")
    for name, ids in (("train_aug.txt", train_aug), ("val.txt", voc_val)):
        write_lines(voc / "list" / name, [f"JPEGImages/{i}.jpg {MASK_DIR}/{i}.png" for i in ids])
    logger.log(f"PASCAL VOC aug: {len(train_aug)} training and {len(voc_val)} validation images listed in "
               f"{voc / 'list'}; masks in {voc / MASK_DIR} ({from_voc} from VOC, {from_sbd} from SBD)")
    return {"train_aug": len(train_aug), "val": len(voc_val)}
