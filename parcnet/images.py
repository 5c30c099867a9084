"""Model inputs from image files, prepared as the evaluation scripts prepare them."""
from __future__ import annotations

import os
from typing import Union

import torch
from torch import nn

from data.datasets import read_image
from data.samplers import crop_size
from data.transforms.presets import classification_eval_transform
from utils.errors import ConfigError


def load_image(path: Union[str, os.PathLike], model: nn.Module) -> torch.Tensor:
    """An image file as a ``1 x 3 x H x W`` input of a classification model from
    :func:`parcnet.create_model`, prepared as ``eval_cls.py``'s image modes prepare it.

    Args:
        path: image file (decoded as the datasets decode it).
        model: a model returned by :func:`parcnet.create_model` (its ``opts`` give the input size
            and the input convention).

    Returns:
        The input tensor, a batch of one.
    """
    opts = getattr(model, "opts", None)
    if opts is None:
        raise ConfigError("load_image needs a model made by parcnet.create_model (it reads the input size from "
                          "model.opts)")
    return classification_eval_transform(opts, min(crop_size(opts)))({"image": read_image(path)})["image"].unsqueeze(0)
