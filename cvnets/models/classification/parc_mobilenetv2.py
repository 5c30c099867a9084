"""ParC-MobileNetV2 and the plain MobileNetV2 it is compared with (torchvision's layout and names)."""
from __future__ import annotations

import argparse
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn
from torchvision.models.mobilenetv2 import InvertedResidual
from torchvision.ops.misc import Conv2dNormActivation

from cvnets.layers.folding import FoldsForInference
from cvnets.models.base import Backbone, FeatureInfo
from cvnets.models.classification.parc_convnets import insert_locations, parc_resize
from cvnets.models.registry import CLS_MODEL_REGISTRY
from cvnets.modules import ParCConv
from cvnets.modules.parc_fused import fold_norm_into_parc_pair
from utils.opts import add_options
from utils.math_utils import make_divisible

# expand ratio, channels, blocks, stride of the first block, feature size at 224
SETTINGS = ((1, 16, 1, 1, 112), (6, 24, 2, 2, 56), (6, 32, 3, 2, 28), (6, 64, 4, 2, 14), (6, 96, 3, 1, 14),
            (6, 160, 3, 2, 7), (6, 320, 1, 1, 7))
DEFAULT_INSERT_LOCS = (1, 2, 3, 2, 2, 2, 1)


def _conv_bn_relu6(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> nn.Module:
    return Conv2dNormActivation(in_channels, out_channels, kernel_size=kernel_size, stride=stride,
                                norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU6)


class ParCInvertedResidual(nn.Module, FoldsForInference):
    """An inverted residual whose depth-wise 3x3 is a ParC pair (``gcc_H``, ``gcc_W``)."""

    def __init__(self, inp: int, oup: int, expand_ratio: int, global_kernel_size: int, use_pe: bool,
                 resize: str = "none") -> None:
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = inp == oup
        self.pw_expand = _conv_bn_relu6(inp, hidden, kernel_size=1)
        self.gcc_H = ParCConv(hidden // 2, "H", global_kernel_size, use_pe, groups=hidden // 2, resize=resize)
        self.gcc_W = ParCConv(hidden // 2, "W", global_kernel_size, use_pe, groups=hidden // 2, resize=resize)
        self.bn = nn.BatchNorm2d(hidden)
        self.act = nn.ReLU6()
        self.pw_linear = nn.Sequential(nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup))

    def fold_for_inference(self) -> None:
        """Fold the batch norm after the ParC pair into it."""
        self.gcc_H, self.gcc_W = fold_norm_into_parc_pair(self.gcc_H, self.gcc_W, self.bn)
        self.bn = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x_h, x_w = torch.chunk(self.pw_expand(x), 2, dim=1)
        out = self.pw_linear(self.act(self.bn(torch.cat((self.gcc_H(x_h), self.gcc_W(x_w)), dim=1))))
        return x + out if self.use_res_connect else out


@CLS_MODEL_REGISTRY.register("parc_mobilenetv2")
class ParCMobileNetV2(Backbone):
    """MobileNetV2 whose stages use ParC blocks from ``insert_locs`` on; the first ParC block of a
    stage has position embeddings."""

    use_parc = True
    profile_convention = "fvcore"  # the published counts are fvcore's
    classifier_prefixes = ("classifier.",)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("MobileNetV2 (model.classification.name: mobilenetv2, parc_mobilenetv2)")
        add_options(group, "--model.classification", [
            ("mobilenetv2.width-mult", 1.0, "MobileNetV2 width multiplier"),
        ])
        return parser

    def __init__(self, opts: Any, output_stride: Optional[int] = None) -> None:
        super().__init__()
        width = float(getattr(opts, "model.classification.mobilenetv2.width_mult"))
        n_classes = int(getattr(opts, "model.classification.n_classes"))
        locations = insert_locations(opts, DEFAULT_INSERT_LOCS, self.use_parc)
        resize = parc_resize(opts)
        channels = make_divisible(32 * width, 8)
        self.last_channel = make_divisible(1280 * max(1.0, width), 8)
        features: List[nn.Module] = [_conv_bn_relu6(3, channels, stride=2)]
        reduction = 2
        self.stage_ends: Dict[int, Tuple[int, int]] = {}  # reduction -> (index of its last block, channels)
        for (t, c, n, s, size), parc_from in zip(SETTINGS, locations):
            out = make_divisible(c * width, 8)
            reduction *= s
            for i in range(n):
                if i < parc_from:
                    features.append(InvertedResidual(channels, out, s if i == 0 else 1, expand_ratio=t))
                else:
                    features.append(ParCInvertedResidual(channels, out, t, size, use_pe=i == parc_from,
                                                         resize=resize))
                channels = out
            self.stage_ends[reduction] = (len(features) - 1, out)
        features.append(_conv_bn_relu6(channels, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.last_channel, n_classes))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)
        self._feature_extractor = self._expansion_is_feature = False

    def forward(self, x: Tensor) -> Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.classifier(x)

    def feature_info(self) -> List[FeatureInfo]:
        """The blocks up to the last one at strides 4, 8, 16 and 32 (24, 32, 96 and 320 channels at
        width 1; the first stage starts at the stem), then the final 1x1 expansion when it was kept."""
        infos, start = [], 0
        for reduction in (4, 8, 16, 32):
            end, channels = self.stage_ends[reduction]
            infos.append(FeatureInfo(channels, reduction, tuple(f"features.{i}" for i in range(start, end + 1))))
            start = end + 1
        if self._expansion_is_feature:
            infos.append(FeatureInfo(self.last_channel, 32, (f"features.{start}",)))
        return infos

    def forward_features(self, x: Tensor) -> List[Tensor]:
        ends = {self.stage_ends[r][0] for r in (4, 8, 16, 32)}
        if self._expansion_is_feature:
            ends.add(len(self.features) - 1)
        features = []
        for i, block in enumerate(self.features):
            x = block(x)
            if i in ends:
                features.append(x)
            if len(features) == len(ends):
                break
        return features

    def to_feature_extractor(self, keep_expansion: bool = False) -> None:
        """Drop the classifier and, unless ``keep_expansion``, the 1x1 convolution before it (the
        block names stay)."""
        if not keep_expansion:
            del self.features[len(self.features) - 1]
        del self.classifier
        self._feature_extractor, self._expansion_is_feature = True, keep_expansion

    def profile_stages(self) -> List[Tuple[str, nn.Module]]:
        rows = [(f"features.{i}", m) for i, m in enumerate(self.features)]
        return rows + ([] if self._feature_extractor else [("classifier", self.classifier)])


@CLS_MODEL_REGISTRY.register("mobilenetv2")
class MobileNetV2(ParCMobileNetV2):
    """The plain MobileNetV2 (torchvision's at width 1.0)."""

    use_parc = False
