"""The ParC-Net stage around the ParC blocks (the reference's ``outer_frame_v1``).

``x`` -> local representation (grouped 3x3 ConvLayer, then 1x1 to ``parc_channels``) -> ParC
blocks -> BatchNorm -> channel adaptation (grouped 1x1 ConvLayer back to ``in_channels``) ->
fusion with ``x`` (a 3x3 ConvLayer over ``x + y`` for ``add`` or over ``cat(y, x)`` for
``concat``). Position embeddings, when enabled, are used in the first block only.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from cvnets.layers import ConvLayer
from cvnets.layers.folding import (FoldsForInference, fold_norm_before_conv, fold_norm_into_conv, folds_norm_before,
                                   is_batch_norm)
from cvnets.layers.grouped_conv import dense_pointwise, repeat_depthwise, repeats_depthwise
from cvnets.modules.parc_block import build_parc_block

FUSIONS = ("add", "concat")


class ParCStage(nn.Module, FoldsForInference):
    """Local representation, ParC blocks and fusion with the input (see the module's description)."""

    def __init__(self, opts: Any, in_channels: int, parc_channels: int, ffn_channels: int, n_blocks: int,
                 kernel: str = "gcc_ca", meta_kernel_size: int = 16, big_kernel_size: int = 0,
                 instance_kernel_method: str = "crop", fusion: str = "add", use_pe: bool = True,
                 mid_mix: bool = False, bias: bool = False, ffn_dropout: float = 0.0, dropout: float = 0.1,
                 dilation: int = 1) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"unknown ParC fusion {fusion!r}; choose one of {FUSIONS}")
        if parc_channels % 2:
            raise ValueError(f"ParCStage needs an even number of ParC channels, got {parc_channels}")
        groups = math.gcd(parc_channels, in_channels)
        self.dim_adaptive = nn.Sequential(
            ConvLayer(opts, in_channels, parc_channels, 3, dilation=dilation, groups=groups),
            ConvLayer(opts, parc_channels, parc_channels, 1, use_norm=False, use_act=False),
        )
        blocks = [build_parc_block(kernel, parc_channels // 2, meta_kernel_size, big_kernel_size,
                                   instance_kernel_method, use_pe=use_pe and i == 0, mid_mix=mid_mix, bias=bias,
                                   ffn_dim=ffn_channels, ffn_dropout=ffn_dropout, dropout=dropout)
                  for i in range(n_blocks)]
        self.spatial_global_rep = nn.Sequential(*blocks, nn.BatchNorm2d(parc_channels))
        self.channel_adaptive = ConvLayer(opts, parc_channels, in_channels, 1, groups=groups)
        fusion_in = in_channels if fusion == "add" else 2 * in_channels
        self.local_global_fusion = ConvLayer(opts, fusion_in, in_channels, 3)
        self.fusion = fusion
        self.in_channels, self.parc_channels, self.n_blocks = in_channels, parc_channels, n_blocks

    def forward(self, x: Tensor) -> Tensor:
        y = self.channel_adaptive(self.spatial_global_rep(self.dim_adaptive(x)))
        if self.fusion == "add":
            return self.local_global_fusion(x + y)
        return self.local_global_fusion(torch.cat((y, x), dim=1))

    def fold_for_inference(self) -> None:
        """Fold the batch norm after the blocks into the 1x1 channel adaptation, and give the two
        grouped convolutions the forms runtimes run fastest (:mod:`cvnets.layers.grouped_conv`)."""
        norm, conv = self.spatial_global_rep[-1], self.channel_adaptive.block.conv
        if is_batch_norm(norm) and folds_norm_before(conv):
            fold_norm_before_conv(norm, conv)
            del self.spatial_global_rep[-1]
        self.channel_adaptive.block.conv = dense_pointwise(self.channel_adaptive.block.conv)
        self._depthwise_local_conv()

    def _depthwise_local_conv(self) -> None:
        """The grouped 3x3 convolution with several outputs per input channel as a depth-wise one
        over the repeated input; its batch norm is folded first and the 1x1 convolution after it
        reads its outputs in their new order."""
        block, pointwise = self.dim_adaptive[0].block, self.dim_adaptive[1].block.conv
        layers = dict(block.named_children())
        norm, act = layers.get("norm"), layers.get("act")
        per_channel = (norm is not None and not is_batch_norm(norm)) or \
            (act is not None and any(True for _ in act.parameters()))
        if per_channel or not repeats_depthwise(block.conv) or pointwise.groups != 1:
            return
        if norm is not None:
            fold_norm_into_conv(block.conv, norm)
            block.norm = nn.Identity()
        block.conv, order = repeat_depthwise(block.conv)
        with torch.no_grad():
            pointwise.weight.copy_(pointwise.weight[:, order])

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, parc_channels={self.parc_channels}, blocks={self.n_blocks}, "
                f"fusion={self.fusion}")
