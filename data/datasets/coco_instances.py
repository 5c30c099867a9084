"""COCO instance segmentation for Mask R-CNN (``dataset.name: coco_mask_rcnn``)."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

import torch

from data.datasets.coco import COCODetection
from data.datasets.base import read_image
from data.datasets.registry import DATASET_REGISTRY
from data.transforms import Compose, PhotometricDistort, RandomHorizontalFlip, ToTensor


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

    def training_transforms(self) -> Compose:
        chain: List[Any] = []
        if getattr(self.opts, "image_augmentation.photo_metric_distort.enable"):
            chain.append(PhotometricDistort(self.opts))
        if getattr(self.opts, "image_augmentation.random_horizontal_flip.enable"):
            chain.append(RandomHorizontalFlip(self.opts))
        return Compose(chain + [ToTensor(self.opts)])

    def get_sample(self, index: int, size: Tuple[int, int]) -> Dict[str, Any]:
        if self.is_evaluation:
            return self.get_evaluation_sample(index, size)
        image_id = self.ids[index]
        image = read_image(self.image_path(index))
        boxes, labels = self._annotations[image_id]
        data = {"image": image, "box_coordinates": boxes.copy(), "box_labels": labels.copy(),
                "instance_masks": self.instance_masks(image_id, *image.shape[:2])}
        data = (self.training_transforms() if self.is_training else Compose([ToTensor(self.opts)]))(data)
        target = {"boxes": torch.from_numpy(data["box_coordinates"]).float(),
                  "labels": torch.from_numpy(data["box_labels"]),
                  "masks": torch.from_numpy(data["instance_masks"])}
        return {"image": data["image"], "label": target, "sample_id": index}
