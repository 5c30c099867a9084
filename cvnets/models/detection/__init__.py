"""Object detection models."""
from __future__ import annotations

import argparse
from typing import Any

from torch import nn

from cvnets.models.base import Detections, Detector
from cvnets.models.classification import build_on_backbone
from cvnets.models.detection.mask_rcnn import MaskRCNNDetector
from cvnets.models.detection.ssd import SingleShotDetector
from cvnets.models.registry import DET_MODEL_REGISTRY, import_modules
from utils.opts import add_options

import_modules(__name__, __path__)  # each model file registers its models


def build_detection_model(opts: Any) -> nn.Module:
    """The detector of ``model.detection.name`` on the configured backbone."""
    return build_on_backbone(opts, "detection", DET_MODEL_REGISTRY.get(getattr(opts, "model.detection.name")))


def arguments_detection(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Detection models")
    add_options(group, "--model.detection", [
        ("name", None, "detection model", dict(type=str, choices=DET_MODEL_REGISTRY.names())),
        ("n-classes", None, "object classes + 1 for the background (81 for COCO)", dict(type=int)),
        ("pretrained", None, "local file with the detector's weights", dict(type=str)),
        ("output-stride", None, "output stride of the backbone (dilation for 8 or 16)",
         dict(type=int, choices=[8, 16, 32])),
        ("freeze-batch-norm", False, "freeze the normalization layers"),
    ])
    DET_MODEL_REGISTRY.add_arguments(parser)
    return parser


__all__ = ["Detections", "Detector", "MaskRCNNDetector", "SingleShotDetector", "build_detection_model", "arguments_detection"]
