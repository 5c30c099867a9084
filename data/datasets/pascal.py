"""PASCAL VOC 2012 segmentation (with the SBD "aug" training list, and optionally the COCO images
converted to VOC's classes)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from data.datasets.base import BaseImageDataset, evaluation_transform
from data.datasets.image_io import read_image, read_mask, shown
from data.datasets.registry import DATASET_REGISTRY
from data.transforms import Compose, Resize, ToUint8Tensor, augmentation_transforms, build_transform
from utils.errors import DataError
from utils.opts import add_options

VOC_CLASSES = ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "potted_plant", "sheep", "sofa", "train",
               "tv_monitor"]


def read_pairs(list_file: Path, base: Path, option: str) -> List[Tuple[Path, Path]]:
    """``image_path mask_path`` lines of ``list_file``, relative to ``base``; every file must exist."""
    if not list_file.is_file():
        raise DataError(f"{option}: list file not found: {list_file}")
    pairs = []
    # file names are bytes: those that are not UTF-8 are kept (escaped) rather than refused
    for number, line in enumerate(list_file.read_text("utf-8", "surrogateescape").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise DataError(f"{list_file}, line {number}: expected 'image_path mask_path', got {shown(line)!r}")
        image, mask = base / parts[0].lstrip("/"), base / parts[1].lstrip("/")
        for path in (image, mask):
            if not path.is_file():
                raise DataError(f"{list_file}, line {number}: file not found: {shown(path)}")
        pairs.append((image, mask))
    if not pairs:
        raise DataError(f"{option}: {list_file} lists no images")
    return pairs


@DATASET_REGISTRY.register("pascal")
class PascalVOCDataset(BaseImageDataset):
    """``root/VOC2012/list/{train_aug,val}.txt`` name image and mask pairs relative to
    ``root/VOC2012``; ``dataset.pascal.use_coco_data`` adds ``coco_root_dir/train_2017.txt``.

    Masks hold class indices (255: ignore), as 8-bit index images or palette PNGs. Training: the
    configured random resize, random crop (or a resize to the crop size), flips and other
    augmentations. Validation: resize to the crop size. Evaluation: the image (resized with
    ``evaluation.segmentation.resize_input_images``) and the mask at its own size.
    """

    def __init__(self, opts: Any, is_training: bool = True, is_evaluation: bool = False) -> None:
        super().__init__(opts, is_training, is_evaluation)
        root = self.check_root()
        self.pairs = self.find_pairs(root)
        self.classes = self.classes_at(root, opts)

    @classmethod
    def classes_at(cls, root: Path, opts: Any) -> Optional[List[str]]:
        """VOC's 21 class names, when the config has that many classes (the masks' indices are the
        labels; their count, ``model.segmentation.n_classes``, is the config's)."""
        n_classes = getattr(opts, "model.segmentation.n_classes")
        return list(VOC_CLASSES) if n_classes in (None, len(VOC_CLASSES)) else None

    def find_pairs(self, root: Path) -> List[Tuple[Path, Path]]:
        """The ``(image, mask)`` files of the split."""
        voc = root / "VOC2012"
        list_file = voc / "list" / ("train_aug.txt" if self.is_training else "val.txt")
        pairs = read_pairs(list_file, voc, self.root_option)
        if self.is_training and getattr(self.opts, "dataset.pascal.use_coco_data"):
            coco_root = getattr(self.opts, "dataset.pascal.coco_root_dir")
            if not coco_root:
                raise DataError("dataset.pascal.use_coco_data needs dataset.pascal.coco_root_dir")
            pairs += read_pairs(Path(coco_root) / "train_2017.txt", Path(coco_root), "dataset.pascal.coco_root_dir")
        return pairs

    def read_label(self, path: Path) -> np.ndarray:
        """The class indices of a mask file."""
        return read_mask(path)

    def __len__(self) -> int:
        return len(self.pairs)

    def training_transforms(self, size: Tuple[int, int]) -> Compose:
        chain: List[Any] = []
        if getattr(self.opts, "image_augmentation.random_resize.enable"):
            chain.append(build_transform("random_resize", self.opts))
        if getattr(self.opts, "image_augmentation.random_crop.enable"):
            chain.append(build_transform("random_crop", self.opts, size))
        else:
            chain.append(Resize(self.opts, size))
        chain += augmentation_transforms(self.opts, exclude=("random_resize",))
        return Compose(chain + [ToUint8Tensor(self.opts)])

    def check_labels(self, mask: np.ndarray, mask_path: Path) -> None:
        """A label outside ``[0, model.segmentation.n_classes)`` other than ``loss.ignore_idx`` would
        crash the loss or be left out of the scores: such a mask is reported and skipped."""
        n_classes = getattr(self.opts, "model.segmentation.n_classes")
        if not n_classes:
            return
        ignore = int(getattr(self.opts, "loss.ignore_idx"))
        invalid = (mask >= n_classes) & (mask != ignore)
        if invalid.any():
            values = sorted(int(v) for v in np.unique(mask[invalid]))
            raise DataError(f"{mask_path} holds labels {values[:5]} outside 0..{n_classes - 1} "
                            f"(model.segmentation.n_classes) and other than loss.ignore_idx {ignore}")

    def get_sample(self, index: int, size: Tuple[int, int]) -> Dict[str, Any]:
        image_path, mask_path = self.pairs[index]
        image, mask = read_image(image_path), self.read_label(mask_path)
        if image.shape[:2] != mask.shape[:2]:
            raise DataError(f"{mask_path} ({mask.shape[1]}x{mask.shape[0]}) does not match the size of "
                            f"{image_path} ({image.shape[1]}x{image.shape[0]})")
        self.check_labels(mask, mask_path)
        if self.is_evaluation:
            chain = self.cached(("evaluation", size), lambda: evaluation_transform(self.opts, "segmentation", size))
            data = chain({"image": image})
            return {"image": data["image"], "label": torch.from_numpy(mask.astype(np.int64)),
                    "file_name": image_path.name, "image_path": str(image_path), "im_height": image.shape[0],
                    "im_width": image.shape[1]}
        transform = self.cached(size, lambda: self.training_transforms(size) if self.is_training
                                else Compose([Resize(self.opts, size), ToUint8Tensor(self.opts)]))
        data = transform({"image": image, "mask": mask})
        return {"image": data["image"], "label": data["mask"], "sample_id": index}

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("PASCAL VOC (dataset.name: pascal)")
        add_options(group, "--dataset.pascal", [
            ("use-coco-data", False, "add the COCO images converted to VOC's classes"),
            ("coco-root-dir", None, "folder of the converted COCO data, with train_2017.txt", dict(type=str)),
        ])
        return parser
