"""Model inputs from images, prepared as the evaluation scripts prepare them."""
from __future__ import annotations

import os
from typing import Any, Union

import numpy as np
import torch
from torch import nn

from data.datasets import read_image
from data.samplers import crop_size
from data.transforms.presets import classification_eval_transform
from utils.errors import ConfigError, DataError

CHANNEL_ORDERS = ("RGB", "BGR")


def _model_opts(model: nn.Module, caller: str) -> Any:
    opts = getattr(model, "opts", None)
    if opts is None:
        raise ConfigError(f"{caller} needs a model made by parcnet.create_model (it reads the input size and the input "
                          f"convention from model.opts)")
    task = getattr(opts, "dataset.category")
    if task != "classification":
        raise ConfigError(f"{caller} prepares the inputs of classification models and their feature stages, not of "
                          f"a {task} model (eval_det.py and eval_seg.py prepare those)")
    return opts


def preprocess(image: Any, model: nn.Module, channel_order: str = "RGB") -> torch.Tensor:
    """An image held in memory as the ``1 x 3 x H x W`` input of a classification model (or its
    feature stages) from :func:`parcnet.create_model`: resized and centre-cropped to the model's
    evaluation size, in the channel order and scaling of the model's own input convention.

    >>> from PIL import Image
    >>> x = parcnet.preprocess(np.asarray(Image.open("cat.jpg").convert("RGB")), model)

    Args:
        image: an ``H x W x 3`` uint8 array (a PIL image is converted with ``np.asarray``).
        model: a model returned by :func:`parcnet.create_model`.
        channel_order: the order of the array's channels: ``"RGB"`` (PIL, timm, matplotlib) or
            ``"BGR"`` (OpenCV's ``cv2.imread``).

    Returns:
        The input tensor, a batch of one.
    """
    opts = _model_opts(model, "preprocess")
    order = str(channel_order).upper()
    if order not in CHANNEL_ORDERS:
        raise ConfigError(f"preprocess: channel_order must be RGB or BGR, got {channel_order!r}")
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise DataError(f"preprocess takes an H x W x 3 uint8 array, got shape {tuple(array.shape)} of {array.dtype}")
    bgr = np.ascontiguousarray(array[:, :, ::-1] if order == "RGB" else array)  # the decoders' order
    return classification_eval_transform(opts, min(crop_size(opts)))({"image": bgr})["image"].unsqueeze(0)


def load_image(path: Union[str, os.PathLike], model: nn.Module) -> torch.Tensor:
    """An image file as the ``1 x 3 x H x W`` input of a classification model from
    :func:`parcnet.create_model`, prepared as ``eval_cls.py``'s image modes prepare it.

    Args:
        path: image file (decoded as the datasets decode it).
        model: a model returned by :func:`parcnet.create_model`.

    Returns:
        The input tensor, a batch of one.
    """
    _model_opts(model, "load_image")
    return preprocess(read_image(path), model, channel_order="BGR")
