"""Image classification models."""
from __future__ import annotations

import argparse
from typing import Any

from torch import nn

from cvnets.layers import with_task_activation
from cvnets.models.classification import (edgeformer, mobilevit, parc_convnext,  # noqa: F401 (registration)
                                          parc_mobilenetv2, parc_resnet)
from cvnets.models.classification.base import BaseEncoder
from cvnets.models.classification.parc_convnets import parc_convnets_arguments
from cvnets.models.registry import CLS_MODEL_REGISTRY
from cvnets.models.weights import finish_model, freeze_norm_layers
from utils.opts import add_flag


def build_classification_model(opts: Any, backbone: bool = False, **kwargs: Any) -> nn.Module:
    """The configured classification model. As the ``backbone`` of a detection or segmentation
    model, its classifier is left out when ``model.classification.pretrained`` is loaded, so a
    checkpoint trained for any number of classes serves."""
    name = getattr(opts, "model.classification.name", None)
    model = CLS_MODEL_REGISTRY.get(name)(with_task_activation(opts, "classification"), **kwargs)
    return finish_model(model, opts, "classification", ignore=("classifier.",) if backbone else ())


def build_on_backbone(opts: Any, task: str, model_cls: Any) -> nn.Module:
    """A ``task`` model (detection, segmentation) around the configured classification backbone at
    ``model.<task>.output_stride``, with ``model.<task>.pretrained`` loaded."""
    encoder = build_classification_model(opts, backbone=True,
                                         output_stride=getattr(opts, f"model.{task}.output_stride", None))
    return finish_model(model_cls(opts, encoder), opts, task)


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
