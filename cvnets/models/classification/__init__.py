"""Image classification models."""
from __future__ import annotations

import argparse
from typing import Any

from torch import nn

from cvnets.layers import with_task_activation
from cvnets.models.base import Backbone
from cvnets.models.classification.encoder import BaseEncoder
from cvnets.models.classification.parc_convnets import arguments_parc_convnets
from cvnets.models.registry import CLS_MODEL_REGISTRY, import_modules
from cvnets.models.weights import finish_model
from utils.opts import add_options

import_modules(__name__, __path__)  # each model file registers its models


def build_classification_model(opts: Any, backbone: bool = False, **kwargs: Any) -> Backbone:
    """The configured classification model. As the ``backbone`` of a detection or segmentation
    model, its classifier (the entries under its ``classifier_prefixes``) is left out when
    ``model.classification.pretrained`` is loaded, so a checkpoint trained for any number of
    classes serves."""
    name = getattr(opts, "model.classification.name")
    model = CLS_MODEL_REGISTRY.get(name)(with_task_activation(opts, "classification"), **kwargs)
    ignore = model.classifier_prefixes if backbone else ()
    return finish_model(model, opts, "classification", ignore=ignore)


def build_on_backbone(opts: Any, task: str, model_cls: Any) -> nn.Module:
    """A ``task`` model (detection, segmentation) around the configured classification backbone at
    ``model.<task>.output_stride``, with ``model.<task>.pretrained`` loaded."""
    encoder = build_classification_model(opts, backbone=True,
                                         output_stride=getattr(opts, f"model.{task}.output_stride"))
    return finish_model(model_cls(opts, encoder), opts, task)


def arguments_classification(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Classification models")
    add_options(group, "--model.classification", [
        ("name", None, "classification model", dict(type=str, choices=CLS_MODEL_REGISTRY.names())),
        ("n-classes", 1000, "number of classes"),
        ("classifier-dropout", 0.0, "dropout before the classifier"),
        ("pretrained", None, "local file with weights to load (released state_dict or checkpoint.pt)", dict(type=str)),
        ("freeze-batch-norm", False, "freeze the normalization layers"),
        ("activation.name", None, "activation of the classification model (overrides model.activation.name)",
         dict(type=str)),
        ("activation.inplace", False, "in-place activations"),
        ("activation.neg-slope", 0.1, "negative slope of leaky_relu"),
    ])
    CLS_MODEL_REGISTRY.add_arguments(parser)
    arguments_parc_convnets(parser)
    return parser


__all__ = ["Backbone", "BaseEncoder", "CLS_MODEL_REGISTRY", "build_classification_model", "arguments_classification"]
