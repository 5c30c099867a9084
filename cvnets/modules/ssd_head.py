"""The SSD prediction head of one feature map."""
from __future__ import annotations

from typing import Any, Tuple

import torch
from torch import Tensor, nn

from cvnets.layers import ConvLayer, SeparableConv


class SSDHead(nn.Module):
    """An optional 1x1 projection (``proj_layer``) and a separable 3x3 (or, for 1x1 maps, a 1x1)
    convolution (``loc_cls_layer``) giving, per cell and anchor, 4 box offsets then the class scores.

    Returns ``(locations, confidences)`` of shapes ``N x (H * W * anchors) x 4`` and ``... x n_classes``,
    anchors ordered by cell (row-major) and then by anchor.
    """

    def __init__(self, opts: Any, in_channels: int, n_anchors: int, n_classes: int, n_coordinates: int = 4,
                 proj_channels: int = -1, kernel_size: int = 3) -> None:
        super().__init__()
        self.proj_layer = None
        if proj_channels not in (-1, in_channels) and kernel_size > 1:
            self.proj_layer = ConvLayer(opts, in_channels, proj_channels, 1)
            in_channels = proj_channels
        out_channels = n_anchors * (n_coordinates + n_classes)
        if kernel_size == 1:
            self.loc_cls_layer = ConvLayer(opts, in_channels, out_channels, 1, bias=True, use_norm=False,
                                           use_act=False)
        else:
            self.loc_cls_layer = SeparableConv(opts, in_channels, out_channels, kernel_size, bias=True,
                                               use_norm=False, use_act=False)
        self.n_coordinates, self.n_classes, self.n_anchors = n_coordinates, n_classes, n_anchors
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        if self.proj_layer is not None:
            x = self.proj_layer(x)
        x = self.loc_cls_layer(x)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, self.n_coordinates + self.n_classes)
        locations, confidences = torch.split(x, [self.n_coordinates, self.n_classes], dim=-1)
        return locations, confidences
