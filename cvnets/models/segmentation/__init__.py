"""Semantic segmentation models."""
from __future__ import annotations

import argparse
from typing import Any

from torch import nn

from cvnets.models.classification import build_on_backbone
from cvnets.models.registry import SEG_HEAD_REGISTRY, SEG_MODEL_REGISTRY
from cvnets.models.segmentation import deeplabv3  # noqa: F401  (registration)
from cvnets.models.segmentation.encoder_decoder import SegEncoderDecoder
from utils.opts import add_flag


def build_segmentation_model(opts: Any) -> nn.Module:
    return build_on_backbone(opts, "segmentation", SEG_MODEL_REGISTRY.get(getattr(opts, "model.segmentation.name", None)))


def arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Segmentation models")
    key = "--model.segmentation"
    group.add_argument(f"{key}.name", type=str, default=None, choices=SEG_MODEL_REGISTRY.names(),
                       help="segmentation model")
    group.add_argument(f"{key}.seg-head", type=str, default="deeplabv3", choices=SEG_HEAD_REGISTRY.names(),
                       help="segmentation head")
    group.add_argument(f"{key}.n-classes", type=int, default=None, help="classes, background included (21 for VOC)")
    group.add_argument(f"{key}.pretrained", type=str, default=None, help="local file with the model's weights")
    group.add_argument(f"{key}.output-stride", type=int, default=None, choices=[8, 16, 32],
                       help="output stride of the backbone (dilation for 8 or 16)")
    group.add_argument(f"{key}.lr-multiplier", type=float, default=1.0, help="learning-rate factor of the head")
    group.add_argument(f"{key}.classifier-dropout", type=float, default=0.1, help="dropout before the classifier")
    add_flag(group, f"{key}.use-aux-head", help="auxiliary classifier on the stride-16 features")
    add_flag(group, f"{key}.use-level5-exp", help="feed the head the backbone's 1x1 expansion output")
    add_flag(group, f"{key}.freeze-batch-norm", help="freeze the normalization layers")
    group.add_argument(f"{key}.activation.name", type=str, default=None,
                       help="activation of the head (overrides model.activation.name)")
    add_flag(group, f"{key}.activation.inplace", help="in-place activations")
    group.add_argument(f"{key}.activation.neg-slope", type=float, default=0.1, help="negative slope of leaky_relu")
    SEG_MODEL_REGISTRY.add_arguments(parser)
    SEG_HEAD_REGISTRY.add_arguments(parser)
    return parser


__all__ = ["SegEncoderDecoder", "build_segmentation_model", "arguments"]
