"""Base of the image datasets: roots, OpenCV decoding, and skipping of unreadable images."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import cv2
import numpy as np
from torch.utils.data import Dataset

from utils import logger
from utils.errors import DataError
from utils.random_state import seeded_draws


def read_image(path: os.PathLike) -> np.ndarray:
    """Decode an image as the released models were trained: OpenCV, 3 channels in BGR order
    (grayscale replicated, alpha dropped, EXIF orientation applied), uint8."""
    try:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error as exc:  # e.g. a header claiming more pixels than OpenCV's limit
        reason = str(exc).strip().splitlines()[-1].split("error: ")[-1]
        raise DataError(f"cannot read image {path}: OpenCV refused it ({reason})") from None
    if image is None:
        reason = "file not found" if not Path(path).is_file() else "not a readable image"
        raise DataError(f"cannot read image {path}: {reason}")
    return image


def read_mask(path: os.PathLike) -> np.ndarray:
    """A label mask as stored (8-bit index image, or the indices of a palette PNG)."""
    from PIL import Image

    try:
        with Image.open(path) as mask:
            return np.array(mask if mask.mode in ("L", "P") else mask.convert("L"), dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot read mask {path}: {exc}") from None


def evaluation_transform(opts: Any, task: str, size: Tuple[int, int]) -> Any:
    """The input transform of evaluation: resize to ``size`` (height, width) when
    ``evaluation.<task>.resize_input_images`` is set, else keep the original size; then a tensor."""
    from data.transforms import Compose, Resize, ToTensor

    resize = bool(getattr(opts, f"evaluation.{task}.resize_input_images"))
    return Compose(([Resize(opts, size)] if resize else []) + [ToTensor(opts)])


class BaseImageDataset(Dataset):
    """A dataset whose items are addressed by ``(crop_h, crop_w, index)`` from the batch samplers.

    ``__getitem__`` returns ``None`` for a sample whose files cannot be read, after logging their
    paths; the collate function drops it, so the other samples keep their places.
    """

    def __init__(self, opts: Any, is_training: bool = True, is_evaluation: bool = False) -> None:
        self.opts = opts
        self.is_training, self.is_evaluation = is_training, is_evaluation
        key = "dataset.root_train" if is_training else "dataset.root_val"
        self.root_option = key
        self.root = getattr(opts, key) or ""

    def check_root(self) -> Path:
        if not self.root:
            raise DataError(f"{self.root_option} is not set: give the dataset folder on the command line "
                            f"(--{self.root_option.replace('_', '-')} PATH) or in the config")
        root = Path(self.root).expanduser()
        if not root.is_dir():
            raise DataError(f"{self.root_option}: dataset folder not found: {self.root}")
        return root

    def get_sample(self, index: int, size: Tuple[int, int]) -> Dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, item: Tuple[int, ...]) -> Optional[Dict[str, Any]]:
        """``item`` is ``(crop_h, crop_w, index)`` or, from the batch samplers, ``(crop_h, crop_w,
        index, seed)``: the sample's random draws then come from ``seed``."""
        crop_h, crop_w, index = item[:3]
        try:
            if len(item) > 3:
                with seeded_draws(item[3]):
                    return self.get_sample(index, (crop_h, crop_w))
            return self.get_sample(index, (crop_h, crop_w))
        except DataError as exc:
            logger.warning(f"skipping sample {index}: {exc}")
            return None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return parser

    def __repr__(self) -> str:
        split = "train" if self.is_training else "val"
        return f"{type(self).__name__}(root={self.root}, split={split}, samples={len(self)})"
