"""COCO instance segmentation for Mask R-CNN (``dataset.name: coco_mask_rcnn``)."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

import numpy as np
import torch

from data.datasets.coco import COCODetection
from data.datasets.image_io import read_image
from data.datasets.registry import DATASET_REGISTRY
from data.transforms import Compose, ToUint8Tensor, build_transform
from utils import logger
from utils.errors import DataError


@DATASET_REGISTRY.register("coco_mask_rcnn")
class COCOInstanceSegmentation(COCODetection):
    """COCO images with, per image, a target dict: ``boxes`` (N x 4, corner form, pixels),
    ``labels`` (1..K) and ``masks`` (N x H x W uint8, decoded from polygons or RLE).

    Images keep their own sizes (the detector resizes them); the sampler's crop size is not used.
    Training: photometric distortion (``image_augmentation.photo_metric_distort.enable``) and
    horizontal flips (``image_augmentation.random_horizontal_flip.enable``). Batches list the
    images and targets instead of stacking them. Evaluation samples are the plain images (see
    :class:`COCODetection`).
    """

    variable_size_samples = True

    def __init__(self, opts: Any, is_training: bool = True, is_evaluation: bool = False) -> None:
        super().__init__(opts, is_training, is_evaluation)
        self._clean_segmentations()

    def _clean_segmentations(self) -> None:
        """Check that every annotation has a segmentation, and drop the polygons of fewer than three
        points (pycocotools reads a four-number polygon as a box), as mmdetection does; an object
        left without a polygon gets an empty mask. The cleaned annotations also serve the mask AP."""
        from pycocotools import mask as mask_utils

        missing = [ann_id for ann_id, ann in self.coco.anns.items() if "segmentation" not in ann]
        if missing:
            raise DataError(f"{self.annotation_file}: {len(missing)} annotations have no segmentation (first: id "
                            f"{missing[0]}); Mask R-CNN needs an instance mask for every object")
        short = emptied = 0
        for ann in self.coco.anns.values():
            polygons = ann["segmentation"]
            if not isinstance(polygons, list):
                continue
            kept = [p for p in polygons if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0]
            short += len(polygons) - len(kept)
            if not kept:
                emptied += 1
                info = self.coco.imgs[ann["image_id"]]
                if "height" not in info or "width" not in info:
                    raise DataError(f"{self.annotation_file}: image {ann['image_id']} states no height and width")
                rle = mask_utils.encode(np.zeros((info["height"], info["width"]), np.uint8, order="F"))
                kept = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            ann["segmentation"] = kept
        if short:
            logger.warning(f"COCO {self.split}: {short} polygons with fewer than three points left out"
                           + (f"; {emptied} objects have an empty mask" if emptied else ""))

    def training_transforms(self) -> Compose:
        names = ("photo_metric_distort", "random_horizontal_flip")
        chain: List[Any] = [build_transform(name, self.opts) for name in names
                            if getattr(self.opts, f"image_augmentation.{name}.enable")]
        return Compose(chain + [ToUint8Tensor(self.opts)])

    def evaluation_transforms(self, size: Tuple[int, int]) -> Compose:
        """The image at its own size, whatever ``evaluation.detection.resize_input_images`` says:
        the detector resizes it (``model.detection.mask_rcnn.min_size`` / ``max_size``)."""
        return Compose([ToUint8Tensor(self.opts)])

    def get_sample(self, index: int, size: Tuple[int, int]) -> Dict[str, Any]:
        if self.is_evaluation:
            return self.get_evaluation_sample(index, size)
        image_id = self.ids[index]
        image = read_image(self.image_path(index))
        boxes, labels = self._annotations[image_id]
        data = {"image": image, "box_coordinates": boxes.copy(), "box_labels": labels.copy(),
                "instance_masks": self.instance_masks(image_id, *image.shape[:2])}
        if self.is_training:
            data = self.cached("training", self.training_transforms)(data)
        else:
            data = self.cached("validation", lambda: self.evaluation_transforms(size))(data)
        target = {"boxes": torch.from_numpy(data["box_coordinates"]).float(),
                  "labels": torch.from_numpy(data["box_labels"]),
                  "masks": torch.from_numpy(data["instance_masks"])}
        return {"image": data["image"], "label": target, "sample_id": index}
