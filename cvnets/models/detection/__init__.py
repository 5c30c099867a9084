"""Object detection models."""
from __future__ import annotations

import argparse
from typing import Any

from torch import nn

from cvnets.models.classification import build_on_backbone
from cvnets.models.detection.ssd import Detections, SingleShotDetector
from cvnets.models.registry import DET_MODEL_REGISTRY
from utils.opts import add_flag


def build_detection_model(opts: Any) -> nn.Module:
    return build_on_backbone(opts, "detection", DET_MODEL_REGISTRY.get(getattr(opts, "model.detection.name", None)))


def arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Detection models")
    group.add_argument("--model.detection.name", type=str, default=None, choices=DET_MODEL_REGISTRY.names(),
                       help="detection model")
    group.add_argument("--model.detection.n-classes", type=int, default=None,
                       help="object classes + 1 for the background (81 for COCO)")
    group.add_argument("--model.detection.pretrained", type=str, default=None,
                       help="local file with the detector's weights")
    group.add_argument("--model.detection.output-stride", type=int, default=None, choices=[8, 16, 32],
                       help="output stride of the backbone (dilation for 8 or 16)")
    add_flag(group, "--model.detection.freeze-batch-norm", help="freeze the normalization layers")
    DET_MODEL_REGISTRY.add_arguments(parser)
    return parser


__all__ = ["Detections", "SingleShotDetector", "build_detection_model", "arguments"]
