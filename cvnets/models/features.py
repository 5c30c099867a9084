"""The feature stages a backbone offers to detection and segmentation heads (timm's ``feature_info``).

A classification model that can serve as a multi-scale backbone provides:

- ``feature_info()``: one :class:`FeatureInfo` per stage, from the finest (stride 4) to the
  coarsest (stride 32);
- ``forward_features(x)``: the stages' outputs, in the same order;
- ``to_feature_extractor()``: drops what only classification needs (the classifier; ConvNeXt adds
  a LayerNorm per output, as its detection and segmentation backbones do);
- ``classifier_prefixes``: the state_dict prefixes of the classifier, left out when classification
  weights are loaded into a backbone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Tuple

from torch import nn

from utils.errors import ConfigError


@dataclass(frozen=True)
class FeatureInfo:
    """One output stage of a backbone.

    Args:
        channels: channels of the stage's output.
        reduction: its stride from the input (4, 8, 16, 32).
        modules: names of the sub-modules that compute it from the previous stage's output (the
            first stage includes the stem).
    """
    channels: int
    reduction: int
    modules: Tuple[str, ...]


def require_feature_stages(encoder: nn.Module, model: str, option: str) -> List[FeatureInfo]:
    """The ``feature_info()`` of ``encoder``, or a ConfigError naming ``option`` when it has none."""
    if not callable(getattr(encoder, "feature_info", None)):
        raise ConfigError(f"{model} needs a backbone with feature stages; {option} "
                          f"{type(encoder).__name__} has none")
    return encoder.feature_info()


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
