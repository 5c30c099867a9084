"""COCO object detection (``root/annotations/instances_{train,val}2017.json``, the images in
``root/images/{train,val}2017/`` or, as the official archives unpack, ``root/{train,val}2017/``),
read with pycocotools."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from cvnets.misc.anchors import anchor_generator_from_opts, feature_map_sizes
from cvnets.misc.matcher import SSDMatcher
from data.datasets.base import BaseImageDataset, evaluation_transform
from data.datasets.coco_annotations import category_names, file_category_names, load_coco
from data.datasets.image_io import read_image
from data.datasets.labels import evaluated_classes, labels_by_name
from data.datasets.registry import DATASET_REGISTRY
from data.transforms import (BoxPercentCoords, Compose, PhotometricDistort, RandomHorizontalFlip, Resize,
                             SSDCropping, ToUint8Tensor, build_transform)
from utils import logger
from utils.errors import DataError


def decode_segmentation(segmentation: Any, height: int, width: int) -> np.ndarray:
    """The ``height x width`` uint8 mask of a COCO ``segmentation``: polygons (a list of
    ``[x1, y1, x2, y2, ...]``, merged), uncompressed RLE (``counts`` a list) or compressed RLE."""
    from pycocotools import mask as mask_utils

    is_rle = isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation
    if not (isinstance(segmentation, list) or is_rle):
        raise DataError(f"not a COCO segmentation (polygons or RLE): {str(segmentation)[:60]}")
    try:  # pycocotools raises ValueError, TypeError or a bare Exception for malformed input
        if isinstance(segmentation, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
        else:
            rle = mask_utils.frPyObjects(segmentation, height, width) if isinstance(segmentation["counts"], list) \
                else segmentation
        mask = mask_utils.decode(rle)
    except Exception as exc:
        raise DataError(f"a malformed segmentation ({exc}): {str(segmentation)[:60]}") from None
    if list(rle["size"]) != [height, width]:
        raise DataError(f"a segmentation of size {list(rle['size'])} on an image of size {[height, width]}")
    return mask


def coco_image_dir(root: Path, split: str, option: str) -> Path:
    """The image folder of ``split`` (``val2017``): ``root/images/<split>`` (the reference's
    layout) or ``root/<split>`` (the official archives unpacked); an error naming both otherwise."""
    candidates = [root / "images" / split, root / split]
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise DataError(f"{option}: no COCO {split} images under {root}: looked for {candidates[0]}/ and "
                    f"{candidates[1]}/ (the official unpacked layout: train2017/, val2017/, annotations/)")


@DATASET_REGISTRY.register("coco")
class COCODetection(BaseImageDataset):
    """Images with their boxes (corner form, pixels) and contiguous labels 1..K (0 is background).

    The labels of a training set follow its category ids; validation and evaluation categories
    take the label of the training category of the same name (:mod:`data.datasets.labels`), and one
    the training set lacks is an error.

    Crowd annotations and boxes without area are left out. Training uses the images that keep at
    least one box; validation and evaluation use every image of the split.
    """

    year = 2017

    def __init__(self, opts: Any, is_training: bool = True, is_evaluation: bool = False) -> None:
        super().__init__(opts, is_training, is_evaluation)
        root = self.check_root()
        self.split = "train" if is_training else "val"
        self.annotation_file = root / "annotations" / f"instances_{self.split}{self.year}.json"
        self.image_dir = coco_image_dir(root, f"{self.split}{self.year}", self.root_option)
        self.coco = load_coco(self.annotation_file)
        categories = sorted(self.coco.getCatIds())
        own = category_names(self.coco)
        # label 0 is the background; the categories are matched to the training classes by name
        self.classes = ["background"] + own if is_training else \
            evaluated_classes(opts, type(self), ["background"] + own, str(self.annotation_file))
        if self.classes[:1] != ["background"]:
            raise DataError(f"the training classes of {self.annotation_file} must start with 'background' "
                            f"(label 0), not {self.classes[:1]}")
        labels = [label + 1 for label in labels_by_name(own, self.classes[1:], str(self.annotation_file))]
        self.coco_to_label = dict(zip(categories, labels))
        self.label_to_coco = {v: k for k, v in self.coco_to_label.items()}
        self.class_names = self.classes
        self.num_classes = len(self.classes)
        self._annotations: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
        self._annotation_ids: Dict[int, List[int]] = {}  # of the boxes kept, in their order
        counts = {"left out": 0, "clipped": 0, "outside": 0}
        for image_id in self.coco.imgs:
            boxes, labels, kept = self._load_annotations(image_id, counts)
            self._annotations[image_id] = (boxes, labels)
            self._annotation_ids[image_id] = kept
        all_ids = sorted(self.coco.imgs)
        self.ids = [i for i in all_ids if len(self._annotations[i][1])] if is_training else all_ids
        if not self.ids:
            raise DataError(f"{self.annotation_file} holds no images" + (" with boxes" if is_training else ""))
        unused = len(all_ids) - len(self.ids)
        notes = [f"{counts['left out']} crowd or empty boxes left out"] if counts["left out"] else []
        if counts["clipped"]:
            notes.append(f"{counts['clipped']} boxes reaching outside their image clipped to it")
        if counts["outside"]:
            notes.append(f"{counts['outside']} boxes entirely outside their image left out")
        if unused:
            notes.append(f"{unused} images without boxes not used for training")
        if notes:
            logger.log(f"COCO {self.split}: " + "; ".join(notes))

    @classmethod
    def classes_at(cls, root: Path, opts: Any) -> Optional[List[str]]:
        """``background`` and the category names of the training annotations under ``root`` (``None``
        when there are none)."""
        annotation_file = root / "annotations" / f"instances_train{cls.year}.json"
        return ["background"] + file_category_names(annotation_file) if annotation_file.is_file() else None

    def _load_annotations(self, image_id: int, counts: Dict[str, int]) -> Tuple[np.ndarray, np.ndarray, List[int]]:
        """The image's boxes (corner form, clipped to the image when it states its size),
        labels and annotation ids;
        ``counts`` tallies the boxes left out or clipped."""
        info = self.coco.imgs[image_id]
        width, height = info.get("width"), info.get("height")
        boxes, labels, kept = [], [], []
        for ann in self.coco.imgToAnns.get(image_id, []):
            x, y, w, h = ann["bbox"]
            if ann.get("iscrowd", 0) or w <= 0 or h <= 0 or ann["category_id"] not in self.coco_to_label:
                counts["left out"] += 1
                continue
            box = [x, y, x + w, y + h]
            if width and height:
                clipped = [min(max(box[0], 0), width), min(max(box[1], 0), height),
                           min(max(box[2], 0), width), min(max(box[3], 0), height)]
                if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
                    counts["outside"] += 1
                    continue
                counts["clipped"] += clipped != box
                box = clipped
            boxes.append(box)
            labels.append(self.coco_to_label[ann["category_id"]])
            kept.append(ann["id"])
        return np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64), kept

    def instance_masks(self, image_id: int, height: int, width: int) -> np.ndarray:
        """``N x height x width`` uint8 masks of the boxes kept for ``image_id``, in their order."""
        masks = []
        for ann_id in self._annotation_ids[image_id]:
            ann = self.coco.anns[ann_id]
            if "segmentation" not in ann:
                raise DataError(f"{self.annotation_file}: annotation {ann_id} has no segmentation")
            try:
                masks.append(decode_segmentation(ann["segmentation"], height, width))
            except DataError as exc:
                raise DataError(f"{self.annotation_file}, annotation {ann_id}: {exc}") from None
        return np.stack(masks) if masks else np.zeros((0, height, width), np.uint8)

    def __len__(self) -> int:
        return len(self.ids)

    def image_path(self, index: int) -> Path:
        return self.image_dir / self.coco.imgs[self.ids[index]]["file_name"]

    def evaluation_transforms(self, size: Tuple[int, int]) -> Compose:
        return evaluation_transform(self.opts, "detection", size)

    def get_evaluation_sample(self, index: int, size: Tuple[int, int]) -> Dict[str, Any]:
        path = self.image_path(index)
        image = read_image(path)
        height, width = image.shape[:2]
        data = self.cached(("evaluation", size), lambda: self.evaluation_transforms(size))({"image": image})
        return {"image": data["image"], "image_id": self.ids[index], "im_height": height, "im_width": width,
                "file_name": path.name}

    def get_sample(self, index: int, size: Tuple[int, int]) -> Dict[str, Any]:
        return self.get_evaluation_sample(index, size)


@DATASET_REGISTRY.register("coco_ssd")
class COCODetectionSSD(COCODetection):
    """COCO with targets for SSD: per anchor, the encoded box offsets and the class (0: background).

    Training: SSD cropping, photometric distortion, horizontal flip (random zoom-out first when
    ``image_augmentation.random_zoom_out.enable``), resize to the crop size. Validation: resize.
    Evaluation samples are the plain images (see :class:`COCODetection`).
    """

    def __init__(self, opts: Any, is_training: bool = True, is_evaluation: bool = False) -> None:
        super().__init__(opts, is_training, is_evaluation)
        key = "model.detection.ssd"
        self.anchor_generator = anchor_generator_from_opts(opts)
        self.output_strides = self.anchor_generator.output_strides
        self.matcher = SSDMatcher(float(getattr(opts, f"{key}.center_variance")),
                                  float(getattr(opts, f"{key}.size_variance")),
                                  float(getattr(opts, f"{key}.iou_threshold")))

    def training_transforms(self, size: Tuple[int, int]) -> Compose:
        chain: List[Any] = []
        if getattr(self.opts, "image_augmentation.random_zoom_out.enable"):
            chain.append(build_transform("random_zoom_out", self.opts))
        chain += [SSDCropping(self.opts), PhotometricDistort(self.opts), RandomHorizontalFlip(self.opts),
                  BoxPercentCoords(self.opts), Resize(self.opts, size), ToUint8Tensor(self.opts)]
        return Compose(chain)

    def validation_transforms(self, size: Tuple[int, int]) -> Compose:
        return Compose([BoxPercentCoords(self.opts), Resize(self.opts, size), ToUint8Tensor(self.opts)])

    def get_sample(self, index: int, size: Tuple[int, int]) -> Dict[str, Any]:
        if self.is_evaluation:
            return self.get_evaluation_sample(index, size)
        boxes, labels = self._annotations[self.ids[index]]
        build = self.training_transforms if self.is_training else self.validation_transforms
        transform = self.cached(size, lambda: build(size))
        data = transform({"image": read_image(self.image_path(index)), "box_coordinates": boxes.copy(),
                          "box_labels": labels.copy()})
        boxes, labels = data["box_coordinates"], data["box_labels"]
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])  # crops can flatten boxes
        anchors = self.anchor_generator.anchors_for_sizes(feature_map_sizes(size[0], size[1], self.output_strides))
        locations, anchor_labels = self.matcher(torch.from_numpy(boxes[keep]), torch.from_numpy(labels[keep]),
                                                anchors)
        return {"image": data["image"], "label": {"box_labels": anchor_labels, "box_coordinates": locations},
                "sample_id": index}
