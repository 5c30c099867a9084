"""MobileNetV2 inverted residual block."""
from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from cvnets.layers import ConvLayer
from utils.math_utils import make_divisible


class InvertedResidual(nn.Module):
    """1x1 expansion -> 3x3 depth-wise -> 1x1 linear projection, with a skip when shapes allow.

    Sub-modules ``block.exp_1x1`` (absent when ``expand_ratio == 1``), ``block.conv_3x3`` and
    ``block.red_1x1``.
    """

    def __init__(self, opts: Any, in_channels: int, out_channels: int, stride: int, expand_ratio: float,
                 dilation: int = 1) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        hidden = make_divisible(int(round(in_channels * expand_ratio)), 8)
        self.block = nn.Sequential()
        if expand_ratio != 1:
            self.block.add_module("exp_1x1", ConvLayer(opts, in_channels, hidden, 1))
        self.block.add_module("conv_3x3", ConvLayer(opts, hidden, hidden, 3, stride=stride, groups=hidden,
                                                    dilation=dilation))
        self.block.add_module("red_1x1", ConvLayer(opts, hidden, out_channels, 1, use_act=False))
        self.use_res_connect = stride == 1 and in_channels == out_channels
        self.in_channels, self.out_channels, self.stride, self.dilation = in_channels, out_channels, stride, dilation

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x) if self.use_res_connect else self.block(x)
