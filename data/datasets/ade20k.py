"""ADE20K scene parsing, as the SceneParsing benchmark releases it (``ADEChallengeData2016``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Tuple

import numpy as np

from data.datasets.image_io import read_mask, shown
from data.datasets.listing import images_in
from data.datasets.pascal import PascalVOCDataset
from data.datasets.registry import DATASET_REGISTRY
from utils.errors import DataError

IGNORE = 255


def reduce_zero_label(mask: np.ndarray) -> np.ndarray:
    """ADE20K's 150 classes 1..150 become 0..149 and its "other" 0 becomes the ignored 255 (an
    existing 255 stays 255), as mmsegmentation's ``reduce_zero_label`` does."""
    reduced = mask.astype(np.int16) - 1
    reduced[(mask == 0) | (mask == IGNORE)] = IGNORE
    return reduced.astype(np.uint8)


@DATASET_REGISTRY.register("ade20k")
class ADE20KDataset(PascalVOCDataset):
    """``root/images/{training,validation}/<name>.jpg`` and ``root/annotations/{training,validation}/<name>.png``,
    ``root`` being the ``ADEChallengeData2016`` folder; every image needs its annotation.

    Annotations hold 8-bit class indices; with :func:`reduce_zero_label` they give the 150 classes
    0..149 and the ignored 255 (``model.segmentation.n_classes: 150``, ``loss.ignore_idx: 255``).
    Transforms, label checks and evaluation samples are those of :class:`PascalVOCDataset`.
    """

    @classmethod
    def classes_at(cls, root: Path, opts: Any) -> Optional[List[str]]:
        """``None``: ADE20K's class names are not known here; labels are shown as indices."""
        return None

    def find_pairs(self, root: Path) -> List[Tuple[Path, Path]]:
        split = "training" if self.is_training else "validation"
        images, annotations = root / "images" / split, root / "annotations" / split
        for folder in (images, annotations):
            if not folder.is_dir():
                raise DataError(f"{self.root_option}: {folder} not found (expected the ADEChallengeData2016 layout: "
                                f"images/{split} and annotations/{split})")
        pairs = []
        for image in images_in(images, self.root_option):
            label = annotations / f"{image.stem}.png"
            if not label.is_file():
                raise DataError(f"{self.root_option}: {shown(image.name)} has no annotation {shown(label)}")
            pairs.append((image, label))
        return pairs

    def read_label(self, path: Path) -> np.ndarray:
        return reduce_zero_label(read_mask(path))
