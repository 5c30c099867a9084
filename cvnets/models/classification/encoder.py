"""The structure ParC-Net and MobileViT share (cvnets' ``BaseEncoder``).

A stem ``conv_1``, five stages ``layer_1`` .. ``layer_5`` (strides 2, 4, 8, 16 and 32 from the
input), a 1x1 expansion ``conv_1x1_exp`` and a ``classifier``. As a :class:`Backbone` its feature
stages are ``layer_2`` .. ``layer_5``; detection and segmentation heads drop the classifier and,
unless they read it, the expansion.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from torch import Tensor, nn

from cvnets.layers import ConvLayer, GlobalPool, LinearLayer, initialize_weights
from cvnets.models.base import Backbone, FeatureInfo
from cvnets.modules import InvertedResidual


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


class BaseEncoder(Backbone):
    """Stem, five stages, 1x1 expansion and classifier; subclasses build them in ``__init__``,
    recording each stage with :meth:`_record_stage`, and end with :meth:`_finish`."""

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
        self.dilation = 1
        self._stages: List[Tuple[int, int]] = []  # (channels, reduction) of layer_1 .. layer_5
        self._expansion_is_feature = False

    def _record_stage(self, out_channels: int, stride: int, dilate: bool = False) -> None:
        """Note the next stage's output channels and reduction (the stem's is 2; a dilated stage
        keeps the reduction of the one before)."""
        previous = self._stages[-1][1] if self._stages else 2
        self._stages.append((out_channels, previous * (1 if dilate else stride)))

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
        self.classifier = build_classifier(opts, exp_channels)
        initialize_weights(opts, self)

    @staticmethod
    def _check_input(x: Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images as an N x 3 x H x W tensor, got shape {tuple(x.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        x = self.layer_5(self.layer_4(self.layer_3(self.layer_2(self.layer_1(self.conv_1(x))))))
        return self.classifier(self.conv_1x1_exp(x))

    def feature_info(self) -> List[FeatureInfo]:
        """``layer_2`` .. ``layer_5`` (strides 4 to 32 when no stage is dilated; the stem and
        ``layer_1`` belong to the first), then ``conv_1x1_exp`` when it was kept as a feature."""
        infos = [FeatureInfo(channels, reduction, (("conv_1", "layer_1") if i == 2 else ()) + (f"layer_{i}",))
                 for i, (channels, reduction) in enumerate(self._stages[1:], start=2)]
        if self._expansion_is_feature:
            infos.append(FeatureInfo(self.conv_1x1_exp.out_channels, infos[-1].reduction, ("conv_1x1_exp",)))
        return infos

    def forward_features(self, x: Tensor) -> List[Tensor]:
        self._check_input(x)
        x = self.layer_1(self.conv_1(x))
        features = []
        for layer in (self.layer_2, self.layer_3, self.layer_4, self.layer_5):
            x = layer(x)
            features.append(x)
        if self._expansion_is_feature:
            features.append(self.conv_1x1_exp(x))
        return features

    def to_feature_extractor(self, keep_expansion: bool = False) -> None:
        """Drop the classifier and, unless ``keep_expansion``, the 1x1 expansion."""
        self.classifier = None
        if not keep_expansion:
            self.conv_1x1_exp = None
        self._expansion_is_feature = keep_expansion

    def profile_stages(self) -> List[Tuple[str, nn.Module]]:
        stages = [("conv_1", self.conv_1), ("layer_1", self.layer_1), ("layer_2", self.layer_2),
                  ("layer_3", self.layer_3), ("layer_4", self.layer_4), ("layer_5", self.layer_5),
                  ("conv_1x1_exp", self.conv_1x1_exp), ("classifier", self.classifier)]
        return [(name, module) for name, module in stages if module is not None]


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
