"""What every model builder does after construction: load configured weights, freeze norms."""
from __future__ import annotations

from typing import Any, Tuple

from torch import nn

from cvnets.layers import freeze_norm_layers
from utils import logger
from utils.weight_files import load_weights


def finish_model(model: nn.Module, opts: Any, task: str, ignore: Tuple[str, ...] = ()) -> nn.Module:
    """Load ``model.<task>.pretrained`` (strictly, except for the entries under the ``ignore``
    prefixes) and apply ``model.<task>.freeze_batch_norm``."""
    option = f"model.{task}.pretrained"
    pretrained = getattr(opts, option)
    if pretrained:
        load_weights(model, pretrained, option, ignore)
        logger.log(f"Loaded {task} weights from {pretrained}")
    if getattr(opts, f"model.{task}.freeze_batch_norm"):
        model = freeze_norm_layers(model)
    return model
