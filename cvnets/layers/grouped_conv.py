"""Exact rewrites of grouped convolutions into the forms that inference runtimes run fastest.

Runtimes have fast kernels for depth-wise convolutions (one input and one output channel per
group) and for dense ones, but often not for the grouped convolutions in between, least of all in
INT8 (onnxruntime's quantized convolution runs them group by group). Two rewrites give the same
outputs with those fast forms:

* one input and ``m`` outputs per group (``groups == in_channels``): the input repeated ``m`` times
  along the channels, then a depth-wise convolution; its outputs come in another order
  (:func:`repeat_depthwise` returns the order, which the layer reading them absorbs);
* several inputs per group, ``1 x 1``: a dense convolution whose weights are zero outside the
  groups (a few more multiply-adds, far fewer, slower calls).
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor, nn


class RepeatedInputConv2d(nn.Conv2d):
    """A convolution over its input repeated ``repeats`` times along the channels."""

    def __init__(self, repeats: int, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.repeats = repeats

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(torch.cat([x] * self.repeats, dim=1))

    def extra_repr(self) -> str:
        return f"repeats={self.repeats}, " + super().extra_repr()


def repeats_depthwise(conv: nn.Module) -> bool:
    """Whether :func:`repeat_depthwise` rewrites ``conv``: one input and several outputs per group."""
    return (type(conv) is nn.Conv2d and conv.groups == conv.in_channels and conv.out_channels > conv.in_channels
            and conv.out_channels % conv.in_channels == 0 and conv.padding_mode == "zeros")


def repeat_depthwise(conv: nn.Conv2d) -> Tuple[RepeatedInputConv2d, Tensor]:
    """``conv`` (one input, ``m > 1`` outputs per group: :func:`repeats_depthwise`) as a depth-wise
    convolution over its input repeated ``m`` times, and ``order``: output ``k`` of the new
    convolution is output ``order[k]`` of ``conv``."""
    if not repeats_depthwise(conv):
        raise ValueError(f"not a grouped convolution with one input per group: {conv}")
    c = conv.in_channels
    m = conv.out_channels // c
    # the repeated input's channel r * c + j is input channel j, which feeds outputs j * m .. j * m + m - 1
    order = torch.arange(conv.out_channels).view(c, m).t().reshape(-1)
    depthwise = RepeatedInputConv2d(m, conv.out_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                    conv.padding, conv.dilation, groups=conv.out_channels,
                                    bias=conv.bias is not None).to(conv.weight.device, conv.weight.dtype)
    with torch.no_grad():
        depthwise.weight.copy_(conv.weight[order])
        if conv.bias is not None:
            depthwise.bias.copy_(conv.bias[order])
    depthwise.requires_grad_(conv.weight.requires_grad)
    return depthwise, order


def dense_pointwise(conv: nn.Conv2d) -> nn.Conv2d:
    """A grouped ``1 x 1`` convolution as a dense one (zero weights across groups); others unchanged."""
    if type(conv) is not nn.Conv2d or conv.groups == 1 or conv.kernel_size != (1, 1):
        return conv
    groups, per_in, per_out = conv.groups, conv.in_channels // conv.groups, conv.out_channels // conv.groups
    dense = nn.Conv2d(conv.in_channels, conv.out_channels, 1, conv.stride, conv.padding, conv.dilation,
                      bias=conv.bias is not None).to(conv.weight.device, conv.weight.dtype)
    with torch.no_grad():
        blocks = conv.weight.detach().view(groups, per_out, per_in)
        dense.weight.copy_(torch.block_diag(*blocks).view_as(dense.weight))
        if conv.bias is not None:
            dense.bias.copy_(conv.bias)
    dense.requires_grad_(conv.weight.requires_grad)
    return dense
