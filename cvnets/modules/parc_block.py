"""The ParC block: a pure-ConvNet meta-former block of ParC-Net.

The input's channels are split in two halves. The spatial part mixes each half globally: one half
by a ParC convolution along H and then along W, the other along W and then along H, each half
pre-normalised and added back to its input. The channel part is an FFN (BN, 1x1, hard-swish,
1x1) whose output is, for the ``*_ca`` kernels, re-weighted by squeeze-excitation style channel
attention, and added to its input.

Kernels (``model.classification.edge.kernel``):
  ``gcc_ca``/``gcc``  ParC (global circular) convolutions, with / without channel attention;
  ``bkc_ca``/``bkc``  the paper's baseline: large zero-padded depth-wise kernels instead.

Parameter names follow the released ParC-Net checkpoints (``meta_kernel_1_H``, ``pre_Norm_1``,
``ffn.1``, ``ca.fc.0``, ...).
"""
from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn

from cvnets.misc.profiler import CountsFunctionalMacs, CountsOwnMacs
from cvnets.modules.channel_attention import ChannelAttention
from cvnets.modules.parc import InstanceCache, implementation_for, instance_tensor, parc_depthwise, prepare_kernel

PARC_KERNELS = ("gcc_ca", "gcc", "bkc_ca", "bkc")


def _channel_ffn(channels: int, hidden: int, ffn_dropout: float, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.BatchNorm2d(channels),
        nn.Conv2d(channels, hidden, kernel_size=1, bias=True),
        nn.Hardswish(),
        nn.Dropout(ffn_dropout),
        nn.Conv2d(hidden, channels, kernel_size=1, bias=True),
        nn.Dropout(dropout),
    )


def _shuffle_halves(a: Tensor, b: Tensor) -> Tuple[Tensor, Tensor]:
    """Channel shuffle with two groups over ``cat(a, b)``, split again into two halves."""
    n, c, h, w = a.shape
    mixed = torch.stack((a, b), dim=2).reshape(n, 2 * c, h, w)
    return mixed[:, :c], mixed[:, c:]


def _channel_part_macs(channels: int, hidden: int, use_ca: bool, pixels: int) -> float:
    # the reference profiler's count: two 1x1 convolutions with bias, and (for *_ca) the
    # attention counted as 2 * hidden * (hidden // 16) per pixel
    macs = 2.0 * channels * hidden * pixels + (channels + hidden) * pixels
    if use_ca:
        macs += 2.0 * hidden * (hidden // 16) * pixels
    return macs


class ParCBlock(nn.Module, CountsOwnMacs, CountsFunctionalMacs):
    """ParC block with global circular convolutions (kernels ``gcc`` and ``gcc_ca``).

    Args:
        dim: channels of each half (the block takes ``2 * dim`` channels).
        meta_kernel_size: length of the learnable meta kernels and position embeddings.
        instance_kernel_method: ``crop`` or ``interpolation_bilinear``, how instance kernels and
            embeddings are made for the current feature size.
        use_pe: add position embeddings before each of the two ParC convolutions.
        mid_mix: shuffle the channels of the two halves between the two convolutions.
        bias: learnable biases of the ParC convolutions.
        ffn_dim: hidden channels of the FFN.
        use_ca: channel attention on the FFN output.
    """

    def __init__(self, dim: int, meta_kernel_size: int, instance_kernel_method: str = "crop", use_pe: bool = True,
                 mid_mix: bool = False, bias: bool = True, ffn_dim: int = 2, ffn_dropout: float = 0.0,
                 dropout: float = 0.1, use_ca: bool = True) -> None:
        super().__init__()
        self.dim, self.meta_kernel_size = dim, meta_kernel_size
        self.instance_kernel_method, self.use_pe, self.mid_mix, self.use_ca = \
            instance_kernel_method, use_pe, mid_mix, use_ca
        self.ffn_dim = ffn_dim
        self.meta_kernel_1_H = nn.Parameter(torch.empty(dim, 1, meta_kernel_size, 1))
        self.meta_kernel_1_W = nn.Parameter(torch.empty(dim, 1, 1, meta_kernel_size))
        self.meta_kernel_2_H = nn.Parameter(torch.empty(dim, 1, meta_kernel_size, 1))
        self.meta_kernel_2_W = nn.Parameter(torch.empty(dim, 1, 1, meta_kernel_size))
        for meta in self._meta_kernels():
            # as nn.Conv2d initialises a (meta_kernel_size x 1) depth-wise kernel
            bound = 1.0 / math.sqrt(meta_kernel_size)
            nn.init.uniform_(meta, -bound, bound)
        if bias:
            self.meta_1_H_bias = nn.Parameter(torch.randn(dim))
            self.meta_1_W_bias = nn.Parameter(torch.randn(dim))
            self.meta_2_H_bias = nn.Parameter(torch.randn(dim))
            self.meta_2_W_bias = nn.Parameter(torch.randn(dim))
        else:
            self.meta_1_H_bias = self.meta_1_W_bias = self.meta_2_H_bias = self.meta_2_W_bias = None
        if use_pe:
            self.meta_pe_1_H = nn.Parameter(torch.randn(1, dim, meta_kernel_size, 1))
            self.meta_pe_1_W = nn.Parameter(torch.randn(1, dim, 1, meta_kernel_size))
            self.meta_pe_2_H = nn.Parameter(torch.randn(1, dim, meta_kernel_size, 1))
            self.meta_pe_2_W = nn.Parameter(torch.randn(1, dim, 1, meta_kernel_size))
        self.pre_Norm_1 = nn.BatchNorm2d(dim)
        self.pre_Norm_2 = nn.BatchNorm2d(dim)
        self.ffn = _channel_ffn(2 * dim, ffn_dim, ffn_dropout, dropout)
        if use_ca:
            self.ca = ChannelAttention(2 * dim)
        self._cache = InstanceCache()

    def _meta_kernels(self) -> List[Tensor]:
        return [self.meta_kernel_1_H, self.meta_kernel_1_W, self.meta_kernel_2_H, self.meta_kernel_2_W]

    def _meta_pes(self) -> List[Tensor]:
        return [self.meta_pe_1_H, self.meta_pe_1_W, self.meta_pe_2_H, self.meta_pe_2_W] if self.use_pe else []

    def _instances(self, h: int, w: int, impls: Tuple[str, str]) -> Tuple[List[Tensor], List[Tensor]]:
        """The four instance kernels, prepared for the implementations ``impls`` of the H and W axes,
        and the four instance embeddings."""
        method = self.instance_kernel_method
        sizes_axes = [(h, 2), (w, 3), (h, 2), (w, 3)]
        kernels = [prepare_kernel(instance_tensor(meta, size, axis, method).flatten(1), impls[axis - 2])
                   for meta, (size, axis) in zip(self._meta_kernels(), sizes_axes)]
        pes = [instance_tensor(pe, size, axis, method) for pe, (size, axis) in zip(self._meta_pes(), sizes_axes)]
        return kernels, pes

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        impls = (implementation_for(h), implementation_for(w))
        params = self._meta_kernels() + self._meta_pes()
        (k_1h, k_1w, k_2h, k_2w), pes = self._cache.get((h, w, impls), params, lambda: self._instances(h, w, impls),
                                                         probe=x)
        x_1, x_2 = torch.chunk(x, 2, dim=1)
        y_1, y_2 = x_1, x_2
        if pes:
            y_1, y_2 = y_1 + pes[0], y_2 + pes[1]
        y_1 = parc_depthwise(self.pre_Norm_1(y_1), k_1h, impls[0], self.meta_1_H_bias, axis=2)
        y_2 = parc_depthwise(self.pre_Norm_2(y_2), k_1w, impls[1], self.meta_1_W_bias, axis=3)
        if self.mid_mix:
            y_1, y_2 = _shuffle_halves(y_1, y_2)
        if pes:
            y_1, y_2 = y_1 + pes[3], y_2 + pes[2]
        y_1 = parc_depthwise(y_1, k_2w, impls[1], self.meta_2_W_bias, axis=3)
        y_2 = parc_depthwise(y_2, k_2h, impls[0], self.meta_2_H_bias, axis=2)
        out = torch.cat((x_1 + y_1, x_2 + y_2), dim=1)
        mixed = self.ffn(out)
        return out + (self.ca(mixed) if self.use_ca else mixed)

    def profile_macs(self, inputs: Sequence[Tensor], output: Tensor) -> float:
        n, c, h, w = inputs[0].shape
        pixels = h * w * n
        # each half is convolved once along H (h taps) and once along W (w taps)
        macs = (h + w) * c * pixels
        if self.meta_1_H_bias is not None:
            macs += 2 * c * pixels
        return macs + _channel_part_macs(c, self.ffn_dim, self.use_ca, pixels)

    def functional_macs(self, inputs: Sequence[Tensor], output: Tensor) -> float:
        """fvcore's count of the depth-wise ParC products, computed without sub-modules."""
        n, c, h, w = inputs[0].shape
        return float((h + w) * c * h * w * n)

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, meta_kernel_size={self.meta_kernel_size}, "
                f"instance_kernel={self.instance_kernel_method}, use_pe={self.use_pe}, mid_mix={self.mid_mix}, "
                f"ffn_dim={self.ffn_dim}, channel_attention={self.use_ca}")


class BigKernelBlock(nn.Module, CountsOwnMacs):
    """The same block with large zero-padded depth-wise kernels (kernels ``bkc`` and ``bkc_ca``).

    As in the reference, the second convolution of each half keeps the first one's orientation
    (``bk_conv_2_W`` is ``k x 1`` and ``bk_conv_2_H`` is ``1 x k``); the names and shapes are kept
    for checkpoint compatibility.
    """

    def __init__(self, dim: int, big_kernel_size: int, mid_mix: bool = False, bias: bool = True,
                 ffn_dim: int = 2, ffn_dropout: float = 0.0, dropout: float = 0.1, use_ca: bool = True) -> None:
        super().__init__()
        if big_kernel_size < 1 or big_kernel_size % 2 == 0:
            raise ValueError(f"BigKernelBlock needs an odd kernel size, got {big_kernel_size}")
        k, pad = big_kernel_size, big_kernel_size // 2
        self.dim, self.big_kernel_size, self.mid_mix, self.use_ca, self.ffn_dim = dim, k, mid_mix, use_ca, ffn_dim
        self.has_bias = bias
        self.pre_Norm_1 = nn.BatchNorm2d(dim)
        self.pre_Norm_2 = nn.BatchNorm2d(dim)
        self.bk_conv_1_H = nn.Conv2d(dim, dim, (k, 1), padding=(pad, 0), groups=dim, bias=bias)
        self.bk_conv_1_W = nn.Conv2d(dim, dim, (1, k), padding=(0, pad), groups=dim, bias=bias)
        self.bk_conv_2_W = nn.Conv2d(dim, dim, (k, 1), padding=(pad, 0), groups=dim, bias=bias)
        self.bk_conv_2_H = nn.Conv2d(dim, dim, (1, k), padding=(0, pad), groups=dim, bias=bias)
        self.ffn = _channel_ffn(2 * dim, ffn_dim, ffn_dropout, dropout)
        if use_ca:
            self.ca = ChannelAttention(2 * dim)

    def forward(self, x: Tensor) -> Tensor:
        x_1, x_2 = torch.chunk(x, 2, dim=1)
        y_1 = self.bk_conv_1_H(self.pre_Norm_1(x_1))
        y_2 = self.bk_conv_1_W(self.pre_Norm_2(x_2))
        if self.mid_mix:
            y_1, y_2 = _shuffle_halves(y_1, y_2)
        out = torch.cat((x_1 + self.bk_conv_2_W(y_1), x_2 + self.bk_conv_2_H(y_2)), dim=1)
        mixed = self.ffn(out)
        return out + (self.ca(mixed) if self.use_ca else mixed)

    def profile_macs(self, inputs: Sequence[Tensor], output: Tensor) -> float:
        n, c, h, w = inputs[0].shape
        pixels = h * w * n
        macs = 2.0 * self.big_kernel_size * c * pixels
        if self.has_bias:
            macs += 2 * c * pixels
        return macs + _channel_part_macs(c, self.ffn_dim, self.use_ca, pixels)

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, big_kernel_size={self.big_kernel_size}, mid_mix={self.mid_mix}, "
                f"ffn_dim={self.ffn_dim}, channel_attention={self.use_ca}")


def build_parc_block(kernel: str, dim: int, meta_kernel_size: int, big_kernel_size: int,
                     instance_kernel_method: str, use_pe: bool, mid_mix: bool, bias: bool, ffn_dim: int,
                     ffn_dropout: float, dropout: float) -> nn.Module:
    """The block for ``kernel`` (one of :data:`PARC_KERNELS`)."""
    if kernel not in PARC_KERNELS:
        raise ValueError(f"unknown ParC kernel {kernel!r}; choose one of {PARC_KERNELS}")
    use_ca = kernel.endswith("_ca")
    if kernel.startswith("gcc"):
        return ParCBlock(dim, meta_kernel_size, instance_kernel_method, use_pe=use_pe, mid_mix=mid_mix, bias=bias,
                         ffn_dim=ffn_dim, ffn_dropout=ffn_dropout, dropout=dropout, use_ca=use_ca)
    return BigKernelBlock(dim, big_kernel_size, mid_mix=mid_mix, bias=bias, ffn_dim=ffn_dim,
                          ffn_dropout=ffn_dropout, dropout=dropout, use_ca=use_ca)
