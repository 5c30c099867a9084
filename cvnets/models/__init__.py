"""Model families and :func:`get_model`, which builds the model a config describes."""
from __future__ import annotations

import argparse
from typing import Any

from torch import nn

from cvnets.models.classification import arguments_classification, build_classification_model
from cvnets.models.detection import arguments_detection, build_detection_model
from cvnets.models.segmentation import arguments_segmentation, build_segmentation_model
from cvnets.models.registry import CLS_MODEL_REGISTRY, DET_MODEL_REGISTRY, SEG_HEAD_REGISTRY, SEG_MODEL_REGISTRY
from utils.errors import ConfigError

TASKS = ("classification", "detection", "segmentation")


def get_model(opts: Any) -> nn.Module:
    """The model for the task named by ``dataset.category``, from the ``model.<task>.*`` options."""
    task = getattr(opts, "dataset.category")
    if task == "classification":
        return build_classification_model(opts)
    if task == "detection":
        return build_detection_model(opts)
    if task == "segmentation":
        return build_segmentation_model(opts)
    raise ConfigError(f"dataset.category {task!r} is not a task; choose one of: {', '.join(TASKS)}")


def arguments_models(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    arguments_classification(parser)
    arguments_detection(parser)
    arguments_segmentation(parser)
    return parser


__all__ = ["get_model", "arguments_models", "CLS_MODEL_REGISTRY", "DET_MODEL_REGISTRY", "SEG_MODEL_REGISTRY",
           "SEG_HEAD_REGISTRY", "TASKS"]
