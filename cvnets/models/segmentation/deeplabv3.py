"""The DeepLabV3 segmentation head (``model.segmentation.seg_head: deeplabv3``)."""
from __future__ import annotations

import argparse
from typing import Any, List, Optional, Tuple, Union

import torch.nn.functional as F
from torch import Tensor, nn

from cvnets.layers import ConvLayer, initialize_weights
from cvnets.models.base import FeatureInfo, SegmentationHead
from cvnets.models.registry import SEG_HEAD_REGISTRY
from cvnets.modules import ASPP
from utils.errors import ConfigError
from utils.opts import add_options


# the backbone stage the auxiliary classifier reads: the third (stride 16, or 8 at output stride 8)
AUX_STAGE = 2


@SEG_HEAD_REGISTRY.register("deeplabv3")
class DeepLabV3(SegmentationHead):
    """ASPP on the backbone's last feature (its last stage, or its 1x1 expansion), a dropout and 1x1
    classifier, bilinear upsampling to the input size. With ``use_aux_head`` an auxiliary
    classifier on the third stage (3x3 ConvLayer, dropout, 1x1) also runs, and the forward returns
    ``(logits, aux_logits)``.

    Args:
        opts: the options (``model.segmentation.*``).
        stages: the backbone's feature stages.
    """

    def __init__(self, opts: Any, stages: List[FeatureInfo]) -> None:
        super().__init__()
        key = "model.segmentation"
        n_classes = getattr(opts, f"{key}.n_classes")
        if not n_classes:
            raise ConfigError(f"{key}.n_classes is not set (21 for PASCAL VOC)")
        rates = [int(r) for r in getattr(opts, f"{key}.deeplabv3.aspp_rates")]
        out_channels = int(getattr(opts, f"{key}.deeplabv3.aspp_out_channels"))
        in_channels = stages[-1].channels
        self.aspp = nn.Sequential()
        self.aspp.add_module("aspp_layer", ASPP(opts, in_channels, out_channels, rates,
                                                separable=bool(getattr(opts, f"{key}.deeplabv3.aspp_sep_conv")),
                                                dropout=float(getattr(opts, f"{key}.deeplabv3.aspp_dropout"))))
        dropout = float(getattr(opts, f"{key}.classifier_dropout"))
        self.classifier = nn.Sequential()
        if 0.0 < dropout < 1.0:
            self.classifier.add_module("classifier_dropout", nn.Dropout2d(dropout))
        self.classifier.add_module("classifier", ConvLayer(opts, out_channels, int(n_classes), 1, bias=True,
                                                           use_norm=False, use_act=False))
        self.aux_head: Optional[nn.Sequential] = None
        if getattr(opts, f"{key}.use_aux_head"):
            l4 = stages[AUX_STAGE].channels
            hidden = max(l4 // 4, 256)
            self.aux_head = nn.Sequential()
            self.aux_head.add_module("aux_projection", ConvLayer(opts, l4, hidden, 3))
            self.aux_head.add_module("dropout", nn.Dropout2d(0.1))
            self.aux_head.add_module("aux_classifier", ConvLayer(opts, hidden, int(n_classes), 1, bias=True,
                                                                 use_norm=False, use_act=False))
        initialize_weights(opts, self)

    def forward(self, features: List[Tensor], size: Tuple[int, int]) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        logits = F.interpolate(self.classifier(self.aspp(features[-1])), size=size, mode="bilinear",
                               align_corners=False)
        if self.aux_head is None:
            return logits
        return logits, self.aux_head(features[AUX_STAGE])

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("DeepLabV3 (model.segmentation.seg_head: deeplabv3)")
        add_options(group, "--model.segmentation.deeplabv3", [
            ("aspp-rates", [6, 12, 18], "atrous rates of the ASPP branches"),
            ("aspp-out-channels", 256, "channels of the ASPP"),
            ("aspp-sep-conv", False, "separable ASPP convolutions"),
            ("aspp-dropout", 0.1, "dropout after the ASPP projection"),
        ])
        return parser
