"""Atrous spatial pyramid pooling (DeepLabV3, Chen et al., 2017)."""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cvnets.layers import ConvLayer, SeparableConv


class ASPPPooling(nn.Module):
    """Image-level features: global average pool, 1x1 ConvLayer, upsampled back to the input size."""

    def __init__(self, opts: Any, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.aspp_pool = nn.Sequential()
        self.aspp_pool.add_module("global_pool", nn.AdaptiveAvgPool2d(1))
        self.aspp_pool.add_module("conv_1x1", ConvLayer(opts, in_channels, out_channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(self.aspp_pool(x), size=x.shape[-2:], mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """A 1x1 branch, one 3x3 branch per atrous rate (plain or separable convolutions) and the
    pooling branch (``convs``), concatenated, projected by a 1x1 ConvLayer (``project``), then
    dropout."""

    def __init__(self, opts: Any, in_channels: int, out_channels: int, atrous_rates: Sequence[int],
                 separable: bool = False, dropout: float = 0.1) -> None:
        super().__init__()
        branches = [ConvLayer(opts, in_channels, out_channels, 1)]
        for rate in atrous_rates:
            if separable:
                branches.append(SeparableConv(opts, in_channels, out_channels, 3, dilation=rate))
            else:
                branches.append(ConvLayer(opts, in_channels, out_channels, 3, dilation=rate))
        branches.append(ASPPPooling(opts, in_channels, out_channels))
        self.convs = nn.ModuleList(branches)
        self.project = ConvLayer(opts, len(branches) * out_channels, out_channels, 1)
        self.dropout = nn.Dropout(dropout) if 0.0 < dropout < 1.0 else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(torch.cat([branch(x) for branch in self.convs], dim=1))
        return self.dropout(out) if self.dropout is not None else out
