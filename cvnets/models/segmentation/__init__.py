"""Semantic segmentation models."""
from __future__ import annotations

import argparse
from typing import Any

from torch import nn

from cvnets.models.base import SegmentationHead, SegmentationModel
from cvnets.models.classification import build_on_backbone
from cvnets.models.registry import SEG_HEAD_REGISTRY, SEG_MODEL_REGISTRY, import_modules
from cvnets.models.segmentation.encoder_decoder import SegEncoderDecoder
from utils.opts import add_options

import_modules(__name__, __path__)  # each model or head file registers its classes


def build_segmentation_model(opts: Any) -> nn.Module:
    """The segmentation model of ``model.segmentation.name`` on the configured backbone."""
    return build_on_backbone(opts, "segmentation", SEG_MODEL_REGISTRY.get(getattr(opts, "model.segmentation.name")))


def arguments_segmentation(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Segmentation models")
    add_options(group, "--model.segmentation", [
        ("name", None, "segmentation model", dict(type=str, choices=SEG_MODEL_REGISTRY.names())),
        ("seg-head", "deeplabv3", "segmentation head", dict(choices=SEG_HEAD_REGISTRY.names())),
        ("n-classes", None, "classes, background included (21 for VOC)", dict(type=int)),
        ("pretrained", None, "local file with the model's weights", dict(type=str)),
        ("output-stride", None, "output stride of the backbone (dilation for 8 or 16)",
         dict(type=int, choices=[8, 16, 32])),
        ("lr-multiplier", 1.0, "learning-rate factor of the head"),
        ("classifier-dropout", 0.1, "dropout before the classifier"),
        ("use-aux-head", False, "auxiliary classifier (deeplabv3: on the stride-16 features; upernet: see "
                                "model.segmentation.upernet.aux_stage)"),
        ("use-level5-exp", False, "feed the head the backbone's 1x1 expansion output"),
        ("freeze-batch-norm", False, "freeze the normalization layers"),
        ("activation.name", None, "activation of the head (overrides model.activation.name)", dict(type=str)),
        ("activation.inplace", False, "in-place activations"),
        ("activation.neg-slope", 0.1, "negative slope of leaky_relu"),
    ])
    SEG_MODEL_REGISTRY.add_arguments(parser)
    SEG_HEAD_REGISTRY.add_arguments(parser)
    return parser


__all__ = ["SegEncoderDecoder", "SegmentationHead", "SegmentationModel", "build_segmentation_model", "arguments_segmentation"]
