"""Convolution layers: ConvLayer (conv -> norm -> activation) and SeparableConv."""
from __future__ import annotations

from typing import Any, Tuple, Union

from torch import Tensor, nn

from cvnets.layers.activation import build_activation
from cvnets.layers.normalization import build_normalization
from utils.errors import ConfigError

IntPair = Union[int, Tuple[int, int]]


def _pair(value: IntPair) -> Tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


class ConvLayer(nn.Module):
    """A 2-D convolution with "same" padding, optionally followed by normalization and activation.

    Its sub-modules live in ``self.block`` under the names ``conv``, ``norm`` and ``act``, which
    gives the state_dict keys of released checkpoints (``...block.conv.weight``).
    """

    def __init__(self, opts: Any, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, dilation: IntPair = 1, groups: int = 1, bias: bool = False,
                 use_norm: bool = True, use_act: bool = True, padding_mode: str = "zeros") -> None:
        super().__init__()
        if use_norm and bias:
            raise ValueError("ConvLayer: a convolution followed by normalization takes no bias")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvLayer: channels {in_channels}->{out_channels} are not divisible by groups={groups}")
        if getattr(opts, "model.layer.conv_weight_std"):
            raise ConfigError("model.layer.conv_weight_std: weight standardisation is not supported; set it to false")
        kernel, stride, dilation = _pair(kernel_size), _pair(stride), _pair(dilation)
        padding = ((kernel[0] - 1) // 2 * dilation[0], (kernel[1] - 1) // 2 * dilation[1])
        self.block = nn.Sequential()
        self.block.add_module("conv", nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding,
                                                dilation=dilation, groups=groups, bias=bias,
                                                padding_mode=padding_mode))
        if use_norm:
            self.block.add_module("norm", build_normalization(opts, out_channels))
        if use_act:
            self.block.add_module("act", build_activation(opts, num_parameters=out_channels))
        self.in_channels = in_channels
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)


class SeparableConv(nn.Module):
    """Depth-wise ConvLayer (``dw_conv``) followed by a point-wise ConvLayer (``pw_conv``)."""

    def __init__(self, opts: Any, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, dilation: IntPair = 1, use_norm: bool = True, use_act: bool = True,
                 bias: bool = False) -> None:
        super().__init__()
        self.dw_conv = ConvLayer(opts, in_channels, in_channels, kernel_size, stride=stride, dilation=dilation,
                                 groups=in_channels, use_norm=True, use_act=False)
        self.pw_conv = ConvLayer(opts, in_channels, out_channels, 1, bias=bias, use_norm=use_norm,
                                 use_act=use_act)
        self.in_channels = in_channels
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        return self.pw_conv(self.dw_conv(x))
