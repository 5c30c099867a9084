"""Image classification models."""
from __future__ import annotations

import argparse
import types
from typing import Any

from torch import nn

from cvnets.layers import NORM_TYPES, with_task_activation
from cvnets.models.classification import (edgeformer, mobilevit, parc_convnext,  # noqa: F401 (registration)
                                          parc_mobilenetv2, parc_resnet)
from cvnets.models.classification.base import BaseEncoder
from cvnets.models.classification.parc_convnets import parc_convnets_arguments
from cvnets.models.registry import CLS_MODEL_REGISTRY
from utils import logger
from utils.checkpoint import load_weights
from utils.opts import add_flag


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


def build_classification_model(opts: Any, **kwargs: Any) -> nn.Module:
    name = getattr(opts, "model.classification.name", None)
    model = CLS_MODEL_REGISTRY.get(name)(with_task_activation(opts, "classification"), **kwargs)
    pretrained = getattr(opts, "model.classification.pretrained", None)
    if pretrained:
        load_weights(model, pretrained, "model.classification.pretrained")
        logger.log(f"Loaded classification weights from {pretrained}")
    if getattr(opts, "model.classification.freeze_batch_norm", False):
        freeze_norm_layers(model)
    return model


def arguments_classification(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Classification models")
    group.add_argument("--model.classification.name", type=str, default=None, choices=CLS_MODEL_REGISTRY.names(),
                       help="classification model")
    group.add_argument("--model.classification.n-classes", type=int, default=1000, help="number of classes")
    group.add_argument("--model.classification.classifier-dropout", type=float, default=0.0,
                       help="dropout before the classifier")
    group.add_argument("--model.classification.pretrained", type=str, default=None,
                       help="local file with weights to load (released state_dict or checkpoint.pt)")
    add_flag(group, "--model.classification.freeze-batch-norm", help="freeze the normalization layers")
    group.add_argument("--model.classification.activation.name", type=str, default=None,
                       help="activation of the classification model (overrides model.activation.name)")
    add_flag(group, "--model.classification.activation.inplace", help="in-place activations")
    group.add_argument("--model.classification.activation.neg-slope", type=float, default=0.1,
                       help="negative slope of leaky_relu")
    CLS_MODEL_REGISTRY.add_arguments(parser)
    parc_convnets_arguments(parser)
    return parser


__all__ = ["BaseEncoder", "CLS_MODEL_REGISTRY", "build_classification_model", "arguments_classification",
           "freeze_norm_layers"]
