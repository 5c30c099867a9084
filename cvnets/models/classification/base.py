"""Common structure of the image classification backbones (cvnets' ``BaseEncoder``).

A backbone has a stem ``conv_1``, five stages ``layer_1`` .. ``layer_5`` (strides 2, 4, 8, 16 and
32 from the input), a 1x1 expansion ``conv_1x1_exp`` and a ``classifier``. Detection and
segmentation models use the stage outputs (:meth:`extract_end_points_all`) and drop the last two.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from torch import Tensor, nn

from cvnets.layers import ConvLayer, GlobalPool, LinearLayer, initialize_weights
from cvnets.models.features import FeatureInfo
from cvnets.modules import InvertedResidual
from utils.errors import ConfigError


@dataclass(frozen=True)
class MV2Spec:
    """A stage of MobileNetV2 inverted residuals."""
    out_channels: int
    expand_ratio: int
    num_blocks: int
    stride: int


def mv2_layer(opts: Any, in_channels: int, stage: MV2Spec) -> nn.Sequential:
    blocks = []
    for i in range(stage.num_blocks):
        blocks.append(InvertedResidual(opts, in_channels, stage.out_channels, stage.stride if i == 0 else 1,
                                       stage.expand_ratio))
        in_channels = stage.out_channels
    return nn.Sequential(*blocks)


def dilation_plan(output_stride: Optional[int]) -> Tuple[bool, bool]:
    """Which of layer_4 / layer_5 trade their stride for dilation to reach ``output_stride``."""
    if output_stride in (None, 32):
        return False, False
    if output_stride == 16:
        return False, True
    if output_stride == 8:
        return True, True
    raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")


class BaseEncoder(nn.Module):
    classifier_prefixes = ("classifier.",)

    def __init__(self) -> None:
        super().__init__()
        self.conv_1: Optional[nn.Module] = None
        self.layer_1: Optional[nn.Module] = None
        self.layer_2: Optional[nn.Module] = None
        self.layer_3: Optional[nn.Module] = None
        self.layer_4: Optional[nn.Module] = None
        self.layer_5: Optional[nn.Module] = None
        self.conv_1x1_exp: Optional[nn.Module] = None
        self.classifier: Optional[nn.Module] = None
        self.model_conf_dict: Dict[str, Dict[str, int]] = {}
        self.dilation = 1

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return parser

    def _downsample(self, opts: Any, in_channels: int, out_channels: int, stride: int, expand_ratio: int,
                    dilate: bool) -> InvertedResidual:
        """The inverted residual that opens a stage. A dilated stage keeps the resolution: its
        stride becomes 1 and later stages' dilation doubles (this block keeps the previous one)."""
        previous = self.dilation
        if dilate and stride == 2:
            self.dilation *= 2
            stride = 1
        return InvertedResidual(opts, in_channels, out_channels, stride, expand_ratio, dilation=previous)

    def _finish(self, opts: Any, in_channels: int, exp_factor: int = 4) -> None:
        """Add the 1x1 expansion and the classifier, then initialise the weights."""
        exp_channels = min(exp_factor * in_channels, 960)
        self.conv_1x1_exp = ConvLayer(opts, in_channels, exp_channels, 1)
        self.model_conf_dict["exp_before_cls"] = {"in": in_channels, "out": exp_channels}
        self.classifier = build_classifier(opts, exp_channels)
        initialize_weights(opts, self)

    @staticmethod
    def _check_input(x: Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images as an N x 3 x H x W tensor, got shape {tuple(x.shape)}")

    def extract_end_points_all(self, x: Tensor, use_l5: bool = True, use_l5_exp: bool = False) -> Dict[str, Tensor]:
        self._check_input(x)
        out: Dict[str, Tensor] = {}
        x = self.layer_1(self.conv_1(x))
        out["out_l1"] = x
        x = self.layer_2(x)
        out["out_l2"] = x
        x = self.layer_3(x)
        out["out_l3"] = x
        x = self.layer_4(x)
        out["out_l4"] = x
        if use_l5:
            x = self.layer_5(x)
            out["out_l5"] = x
            if use_l5_exp:
                out["out_l5_exp"] = self.conv_1x1_exp(x)
        return out

    def extract_features(self, x: Tensor) -> Tensor:
        self._check_input(x)
        x = self.layer_5(self.layer_4(self.layer_3(self.layer_2(self.layer_1(self.conv_1(x))))))
        return self.conv_1x1_exp(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.extract_features(x))

    def feature_info(self) -> List[FeatureInfo]:
        """``layer_2`` .. ``layer_5`` (strides 4 to 32 when no stage is dilated); the stem and
        ``layer_1`` belong to the first."""
        if self.dilation != 1:
            raise ConfigError("the feature stages of a dilated backbone have no stride-32 output; "
                              "build it without an output stride (model.<task>.output_stride)")
        return [FeatureInfo(self.model_conf_dict[f"layer{i}"]["out"], 2 ** i,
                            (("conv_1", "layer_1") if i == 2 else ()) + (f"layer_{i}",)) for i in range(2, 6)]

    def forward_features(self, x: Tensor) -> List[Tensor]:
        points = self.extract_end_points_all(x, use_l5=True)
        return [points[f"out_l{i}"] for i in range(2, 6)]

    def to_feature_extractor(self) -> None:
        """Drop the 1x1 expansion and the classifier."""
        self.conv_1x1_exp = None
        self.classifier = None

    def profile_stages(self) -> List[Tuple[str, nn.Module]]:
        names = ["conv_1", "layer_1", "layer_2", "layer_3", "layer_4", "layer_5", "conv_1x1_exp", "classifier"]
        return [(n, getattr(self, n)) for n in names if getattr(self, n) is not None]


def build_classifier(opts: Any, in_channels: int) -> nn.Sequential:
    """Global pool -> dropout (when 0 < p < 1) -> linear, as ``classifier.fc``."""
    n_classes = getattr(opts, "model.classification.n_classes")
    dropout = getattr(opts, "model.classification.classifier_dropout")
    classifier = nn.Sequential()
    classifier.add_module("global_pool", GlobalPool(getattr(opts, "model.layer.global_pool")))
    if 0.0 < dropout < 1.0:
        classifier.add_module("dropout", nn.Dropout(p=dropout))
    classifier.add_module("fc", LinearLayer(in_channels, n_classes))
    return classifier
