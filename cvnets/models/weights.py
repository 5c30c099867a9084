"""What every model builder does after construction: load configured weights, freeze norms."""
from __future__ import annotations

import types
from typing import Any, Tuple

from torch import nn

from cvnets.layers import NORM_TYPES
from utils import logger
from utils.checkpoint import load_weights


def _stay_in_eval(module: nn.Module, mode: bool = True) -> nn.Module:
    module.training = False
    return module


def freeze_norm_layers(model: nn.Module) -> None:
    """Keep normalization layers in eval mode (also after ``model.train()``) with fixed affine parameters."""
    for module in model.modules():
        if isinstance(module, NORM_TYPES):
            module.train = types.MethodType(_stay_in_eval, module)
            module.eval()
            for param in module.parameters():
                param.requires_grad_(False)


def finish_model(model: nn.Module, opts: Any, task: str, ignore: Tuple[str, ...] = ()) -> nn.Module:
    """Load ``model.<task>.pretrained`` (strictly, except for the entries under the ``ignore``
    prefixes) and apply ``model.<task>.freeze_batch_norm``."""
    option = f"model.{task}.pretrained"
    pretrained = getattr(opts, option, None)
    if pretrained:
        load_weights(model, pretrained, option, ignore)
        logger.log(f"Loaded {task} weights from {pretrained}")
    if getattr(opts, f"model.{task}.freeze_batch_norm", False):
        freeze_norm_layers(model)
    return model
