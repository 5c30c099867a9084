"""What heads do with a backbone's feature stages (:meth:`cvnets.models.base.Backbone.feature_info`):
refuse a dilated backbone where the head needs strides 4 to 32, and freeze the first stages."""
from __future__ import annotations

from typing import Any, List

from torch import nn

from cvnets.models.base import FeatureInfo
from utils.errors import ConfigError


def reject_output_stride(opts: Any, task: str, model: str) -> None:
    """A ConfigError when ``model.<task>.output_stride`` is set: ``model`` reads the backbone's four
    stages at strides 4 to 32, which a dilated backbone does not have."""
    if getattr(opts, f"model.{task}.output_stride") is not None:
        raise ConfigError(f"model.{task}.output_stride is for DeepLabV3 and SSD; {model} reads the backbone's "
                          f"stages at strides 4 to 32: leave it unset")


def freeze_stages(backbone: nn.Module, stages: List[FeatureInfo], count: int, option: str) -> None:
    """Stop the parameters of the first ``count`` stages (the stem included) from learning, as
    mmdetection's ``frozen_stages`` and torchvision's ``trainable_backbone_layers`` do; their
    normalization statistics are frozen separately (``freeze_batch_norm``)."""
    if not 0 <= count <= len(stages):
        raise ConfigError(f"{option} must be between 0 and {len(stages)}, got {count}")
    for stage in stages[:count]:
        for name in stage.modules:
            for param in backbone.get_submodule(name).parameters():
                param.requires_grad_(False)
