"""UperNet's decode head (Xiao et al., ECCV 2018) and the auxiliary FCN head, as mmsegmentation
builds them for ConvNeXt: a pyramid pooling module (PPM) on the coarsest stage, a feature pyramid
over all stages, the fused pyramid levels; 3x3 / 1x1 convolutions with normalization and ReLU."""
from __future__ import annotations

from typing import Callable, List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops.misc import Conv2dNormActivation

NormLayer = Callable[[int], nn.Module]


def conv_norm_relu(in_channels: int, out_channels: int, kernel_size: int, norm_layer: NormLayer) -> nn.Module:
    """Convolution (no bias), normalization, ReLU; the convolution Kaiming-initialised (fan out)."""
    block = Conv2dNormActivation(in_channels, out_channels, kernel_size=kernel_size, norm_layer=norm_layer,
                                 activation_layer=nn.ReLU)
    nn.init.kaiming_normal_(block[0].weight, mode="fan_out", nonlinearity="relu")
    return block


def _classifier(channels: int, n_classes: int) -> nn.Conv2d:
    conv = nn.Conv2d(channels, n_classes, kernel_size=1)
    nn.init.normal_(conv.weight, std=0.01)
    nn.init.zeros_(conv.bias)
    return conv


def _resize(x: Tensor, size: Sequence[int]) -> Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class UPerHead(nn.Module):
    """PPM on the last stage, top-down feature pyramid, fusion of all levels, classifier.

    Args:
        in_channels: channels of the backbone's stages, finest first.
        channels: channels of the head.
        n_classes: output classes.
        pool_scales: output sizes of the PPM's pooling branches.
        dropout: dropout (2-D) before the classifier.
        norm_layer: normalization layer of a given width.

    Returns (forward): logits at the finest stage's resolution.
    """

    def __init__(self, in_channels: Sequence[int], channels: int, n_classes: int,
                 pool_scales: Sequence[int] = (1, 2, 3, 6), dropout: float = 0.1,
                 norm_layer: NormLayer = nn.BatchNorm2d) -> None:
        super().__init__()
        last = in_channels[-1]
        self.psp_modules = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(scale), conv_norm_relu(last, channels, 1, norm_layer))
            for scale in pool_scales)
        self.bottleneck = conv_norm_relu(last + len(pool_scales) * channels, channels, 3, norm_layer)
        self.lateral_convs = nn.ModuleList(conv_norm_relu(c, channels, 1, norm_layer) for c in in_channels[:-1])
        self.fpn_convs = nn.ModuleList(conv_norm_relu(channels, channels, 3, norm_layer) for _ in in_channels[:-1])
        self.fpn_bottleneck = conv_norm_relu(len(in_channels) * channels, channels, 3, norm_layer)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.conv_seg = _classifier(channels, n_classes)

    def pyramid_pooling(self, x: Tensor) -> Tensor:
        pooled = [_resize(branch(x), x.shape[-2:]) for branch in self.psp_modules]
        return self.bottleneck(torch.cat([x] + pooled, dim=1))

    def forward(self, features: List[Tensor]) -> Tensor:
        laterals = [conv(f) for conv, f in zip(self.lateral_convs, features)]
        laterals.append(self.pyramid_pooling(features[-1]))
        for i in range(len(laterals) - 1, 0, -1):  # top-down
            laterals[i - 1] = laterals[i - 1] + _resize(laterals[i], laterals[i - 1].shape[-2:])
        outs = [conv(lateral) for conv, lateral in zip(self.fpn_convs, laterals)] + [laterals[-1]]
        size = outs[0].shape[-2:]
        fused = self.fpn_bottleneck(torch.cat([outs[0]] + [_resize(o, size) for o in outs[1:]], dim=1))
        return self.conv_seg(self.dropout(fused))


class FCNHead(nn.Module):
    """The auxiliary head: one 3x3 convolution block, dropout, classifier (mmsegmentation's
    ``FCNHead`` with one convolution and no input concatenation)."""

    def __init__(self, in_channels: int, channels: int, n_classes: int, dropout: float = 0.1,
                 norm_layer: NormLayer = nn.BatchNorm2d) -> None:
        super().__init__()
        self.convs = conv_norm_relu(in_channels, channels, 3, norm_layer)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.conv_seg = _classifier(channels, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_seg(self.dropout(self.convs(x)))
