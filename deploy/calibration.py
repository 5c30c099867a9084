"""The images INT8 quantization is calibrated on: drawn from the config's training set and
transformed as for validation, at the export's input size."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from data.datasets import build_dataset
from data.transforms import DeviceNormaliser, InputConvention
from utils.errors import ConfigError, DataError


def calibration_images(opts: Any, count: int, size: Sequence[int]) -> Tensor:
    """``count`` images of ``dataset.root_train``, evenly spread over the set (the same ones on every
    run), each transformed by the dataset's validation transform at ``size`` ``(H, W)``.

    Args:
        opts: the options (the dataset and its transforms).
        count: how many images (``export.calibration_images``), at least 1.
        size: the export's input height and width.

    Returns:
        A ``count x 3 x H x W`` float32 tensor (fewer rows when the training set has fewer images,
        which the caller reports); a :class:`DataError` when no image can be read.
    """
    if count < 1:
        raise ConfigError(f"export.calibration_images must be at least 1, got {count}")
    dataset = build_dataset(opts, is_training=True)
    dataset.is_training = False  # its validation transform
    if len(dataset) == 0:
        raise DataError(f"dataset.root_train {getattr(opts, 'dataset.root_train')}: no image to calibrate on")
    indices = np.unique(np.linspace(0, len(dataset) - 1, num=min(count, len(dataset))).round().astype(int))
    normalise = DeviceNormaliser(InputConvention.from_opts(opts))  # the datasets give uint8 images
    images = []
    for index in indices:
        sample = dataset[(int(size[0]), int(size[1]), int(index))]
        if sample is not None:
            images.append(normalise(sample["image"]).float())
    if not images:
        raise DataError(f"dataset.root_train {getattr(opts, 'dataset.root_train')}: none of the "
                        f"{len(indices)} calibration images could be read")
    return torch.stack(images)
