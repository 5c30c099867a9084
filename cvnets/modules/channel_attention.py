"""Squeeze-excitation style channel attention used by the ParC block's FFN."""
from __future__ import annotations

from torch import Tensor, nn


class ChannelAttention(nn.Module):
    """Global average pool -> 1x1 conv (C/r) -> BN -> hard-swish -> 1x1 conv (C) -> BN -> hard-sigmoid,
    and the input scaled channel-wise by the result. Sub-modules ``fc.0`` to ``fc.5``."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = channels // reduction
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Conv2d(channels, hidden, kernel_size=1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.Hardswish(),
            nn.Conv2d(hidden, channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.Hardsigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * self.fc(self.gap(x))
