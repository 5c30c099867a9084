"""The position aware circular convolution (ParC) operator.

A ParC convolution slides a kernel as long as the feature map along one axis (H or W) and wraps
around at the border, so every output sees the whole row or column: a global receptive field
with a depth-wise convolution's cost. The kernel is an *instance kernel* made for the current
feature size from a learnable *meta kernel*, by cropping it or by bilinear interpolation; an
optional position embedding, made the same way, is added to the input first.

``out[i] = bias + sum_k kernel[k] * x[(i + k) mod L]`` along the axis, which equals a
convolution of the input concatenated with its first ``L - 1`` rows (or columns).

Depth-wise kernels are applied, per axis length, as a batched product with the circulant matrix of
the kernel (one ``L x L`` matrix per channel, several times faster than a ``L x 1`` convolution on
CPUs) or, for long axes, as a product of spectra (FFT); see :data:`IMPLEMENTATIONS`. In eager
inference the prepared kernels are cached for the last feature sizes seen
(:mod:`cvnets.modules.instance_cache`); tracers and compilers always see them computed.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cvnets.misc.profiler import CountsFunctionalMacs, CountsOwnMacs
from cvnets.modules.instance_cache import InstanceCache, is_tracing
from utils.errors import ConfigError

INSTANCE_KERNEL_METHODS = ("crop", "interpolation_bilinear")
AXES = {"H": 2, "W": 3}


def instance_tensor(meta: Tensor, size: int, axis: int, method: str) -> Tensor:
    """Resize the 4-D ``meta`` tensor along ``axis`` (2 or 3) to ``size`` by ``method``."""
    meta_size = meta.shape[axis]
    if size == meta_size:
        return meta
    if method == "crop":
        if size > meta_size:
            raise ValueError(
                f"ParC instance kernel 'crop' cannot make a kernel of {size} from a meta kernel of {meta_size}: "
                f"the feature map is larger than the meta kernel; use instance kernel 'interpolation_bilinear' "
                f"or a smaller input")
        return meta.narrow(axis, 0, size)
    if method == "interpolation_bilinear":
        target = [size, 1] if axis == 2 else [1, size]
        return F.interpolate(meta, size=target, mode="bilinear", align_corners=True)
    raise ValueError(f"unknown ParC instance kernel method {method!r}; choose one of {INSTANCE_KERNEL_METHODS}")


_INDEX_CACHE: Dict[Tuple[int, torch.device], Tensor] = {}


def _make_circulant_index(length: int, device: torch.device) -> Tensor:
    steps = torch.arange(length, device=device)
    return (steps[None, :] - steps[:, None]) % length


def _circulant_index(length: int, device: torch.device) -> Tensor:
    """The ``L x L`` index of circulant matrices, cached per length and device in eager mode. The
    cached index is an ordinary tensor even when first made under ``torch.inference_mode`` (an
    inference tensor could never be saved for a later training step's backward)."""
    if is_tracing():
        return _make_circulant_index(length, device)
    key = (length, device)
    index = _INDEX_CACHE.get(key)
    if index is None:
        with torch.inference_mode(False):
            index = _make_circulant_index(length, device)
        _INDEX_CACHE[key] = index
    return index


def circulant(kernel: Tensor) -> Tensor:
    """``C x L`` kernels -> ``C x L x L`` matrices ``M[c, i, j] = kernel[c, (j - i) mod L]``."""
    return kernel[:, _circulant_index(kernel.shape[1], kernel.device)]


# How depth-wise ParC convolutions are computed:
#   "circulant"   batched products with the kernels' circulant matrices, O(L^2) per row: the fastest
#                 on CPUs for the short axes of classification;
#   "fft"         products of spectra (torch.fft.rfft along the axis), O(L log L) per row (Fast-ParC);
#   "concat_conv" a convolution over the input concatenated with itself, as the reference computes it;
#   "auto"        circulant below FFT_MIN_LENGTH, fft from there on (the default).
IMPLEMENTATIONS = ("auto", "circulant", "fft", "concat_conv")
# the axis length from which "fft" beats "circulant": measured on two CPU cores, batch 1, 96
# channels (README, "ParC implementations"; python main_benchmark.py --benchmark.parc-crossover)
FFT_MIN_LENGTH = 128
_implementation = "auto"


def set_implementation(name: str) -> str:
    """Choose how depth-wise ParC convolutions are computed; returns the previous choice."""
    global _implementation
    if name not in IMPLEMENTATIONS:
        raise ValueError(f"unknown ParC implementation {name!r}; choose one of {IMPLEMENTATIONS}")
    previous, _implementation = _implementation, name
    return previous


@contextmanager
def using_implementation(name: str) -> Iterator[None]:
    """Use ``name`` inside a ``with`` block (see :func:`set_implementation`)."""
    previous = set_implementation(name)
    try:
        yield
    finally:
        set_implementation(previous)


def current_implementation() -> str:
    return _implementation


def implementation_for(length: int) -> str:
    """The implementation used for an axis of ``length``. ONNX graphs always get circulant products
    (matrix products run in every ONNX runtime; DFT operators do not)."""
    name = _implementation
    if name == "auto":
        name = "fft" if length >= FFT_MIN_LENGTH else "circulant"
    if name == "fft" and torch.onnx.is_in_onnx_export():
        return "circulant"
    return name


def prepare_kernel(kernel: Tensor, implementation: str) -> Tensor:
    """``C x L`` instance kernels in the form ``implementation`` applies them: circulant matrices
    (``C x L x L``), conjugated spectra (``C x (L // 2 + 1)``, complex) or the kernels themselves."""
    if implementation == "circulant":
        return circulant(kernel)
    if implementation == "fft":
        return torch.fft.rfft(kernel.float(), dim=1).conj_physical()
    return kernel


def parc_depthwise(x: Tensor, prepared: Tensor, implementation: str, bias: Optional[Tensor], axis: int) -> Tensor:
    """Depth-wise circular convolution of ``x`` (N x C x H x W) along ``axis`` with kernels made by
    :func:`prepare_kernel` for ``implementation``, plus a per-channel ``bias``."""
    if implementation == "circulant":
        return _circulant_product(x, prepared, bias, axis)
    length = x.shape[axis]
    if implementation == "fft":  # transforms along the last axis are the fastest: move H there
        moved = x.transpose(2, 3) if axis == 2 else x
        spectrum = torch.fft.rfft(moved.float(), dim=3) * prepared.view(1, -1, 1, prepared.shape[1])
        out = torch.fft.irfft(spectrum, n=length, dim=3).to(x.dtype)
        out = out.transpose(2, 3) if axis == 2 else out
        return out if bias is None else out + bias.view(1, -1, 1, 1).to(out.dtype)
    shape = (-1, 1, length, 1) if axis == 2 else (-1, 1, 1, length)
    return circular_conv(x, prepared.reshape(shape), bias, axis, groups=x.shape[1])


def _circulant_product(x: Tensor, matrix: Tensor, bias: Optional[Tensor], axis: int) -> Tensor:
    n, c, h, w = x.shape
    if axis == 2:
        cols = x.permute(1, 2, 0, 3).reshape(c, h, n * w)
        out = torch.bmm(matrix, cols) if bias is None else torch.baddbmm(bias.view(c, 1, 1), matrix, cols)
        return out.view(c, h, n, w).permute(2, 0, 1, 3)
    rows = x.transpose(0, 1).reshape(c, n * h, w)
    out = torch.bmm(rows, matrix.transpose(1, 2))
    if bias is not None:
        out = out + bias.view(c, 1, 1)
    return out.view(c, n, h, w).transpose(0, 1)


def circular_conv_depthwise(x: Tensor, matrix: Tensor, bias: Optional[Tensor], axis: int) -> Tensor:
    """Depth-wise circular convolution of ``x`` (N x C x H x W) along ``axis`` with circulant ``matrix``."""
    implementation = implementation_for(x.shape[axis])
    if implementation == "circulant":
        return _circulant_product(x, matrix, bias, axis)
    kernel = matrix[:, 0, :]  # the first row of a circulant matrix is its kernel
    return parc_depthwise(x, prepare_kernel(kernel, implementation), implementation, bias, axis)


def circular_conv(x: Tensor, weight: Tensor, bias: Optional[Tensor], axis: int, groups: int = 1) -> Tensor:
    """Circular convolution with a full ``weight`` (C_out x C_in/groups x L x 1 or 1 x L)."""
    length = x.shape[axis]
    if weight.shape[axis] != length:
        raise ValueError(f"ParC kernel of {weight.shape[axis]} does not match the feature size {length}")
    wrapped = torch.cat((x, x.narrow(axis, 0, length - 1)), dim=axis)
    return F.conv2d(wrapped, weight, bias, groups=groups)


class KernelSizeError(ConfigError, ValueError):
    """A ParC convolution met a feature map its fixed kernels were not made for."""


def check_kernel_size(op: nn.Module, size: int) -> None:
    """A ConfigError when ParC convolution ``op``, whose kernels are not resized, meets a feature map
    of another length than its global kernel."""
    if op.resize == "none" and size != op.global_kernel_size:
        raise KernelSizeError(
            f"ParCConv ({op.direction}) has a global kernel of {op.global_kernel_size} but the feature map "
            f"has {size}: run at the resolution the kernels were made for (224 for the ParC ConvNets) or "
            f"resize them (model.classification.parc.instance_kernel: interpolation_bilinear)")


class ParCConv(nn.Module, CountsOwnMacs, CountsFunctionalMacs):
    """A stand-alone ParC convolution along ``direction`` ("H" or "W") with a fixed global kernel.

    Parameters are ``gcc_conv`` (an ``nn.Conv2d`` with a ``global_kernel_size x 1`` or
    ``1 x global_kernel_size`` kernel) and ``pe`` (position embedding), as in the ParC ConvNets.
    The kernel must match the feature size unless ``resize`` is ``"interpolation_bilinear"``,
    which makes instance kernels and embeddings for other sizes as ParC-Net does.
    """

    def __init__(self, channels: int, direction: str, global_kernel_size: int, use_pe: bool = True,
                 groups: int = 1, resize: str = "none") -> None:
        super().__init__()
        if direction not in AXES:
            raise ValueError(f"ParCConv direction must be 'H' or 'W', got {direction!r}")
        if resize not in ("none", "interpolation_bilinear"):
            raise ValueError(f"ParCConv resize must be 'none' or 'interpolation_bilinear', got {resize!r}")
        self.direction, self.axis = direction, AXES[direction]
        self.channels, self.groups, self.global_kernel_size = channels, groups, global_kernel_size
        self.use_pe, self.resize = use_pe, resize
        kernel = (global_kernel_size, 1) if direction == "H" else (1, global_kernel_size)
        self.gcc_conv = nn.Conv2d(channels, channels, kernel_size=kernel, groups=groups)
        if use_pe:
            shape = (1, channels, global_kernel_size, 1) if direction == "H" else (1, channels, 1, global_kernel_size)
            self.pe = nn.Parameter(torch.empty(shape))
            nn.init.trunc_normal_(self.pe, std=0.02)
        self._cache = InstanceCache()

    def _instances(self, size: int, implementation: str) -> Tuple[Tensor, Optional[Tensor]]:
        check_kernel_size(self, size)
        weight = instance_tensor(self.gcc_conv.weight, size, self.axis, "interpolation_bilinear")
        pe = instance_tensor(self.pe, size, self.axis, "interpolation_bilinear") if self.use_pe else None
        if self.groups == self.channels:
            weight = prepare_kernel(weight.flatten(1), implementation)
        return weight, pe

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[self.axis]
        implementation = implementation_for(size)
        params = [self.gcc_conv.weight] + ([self.pe] if self.use_pe else [])
        weight, pe = self._cache.get((size, implementation), params, lambda: self._instances(size, implementation),
                                     probe=x)
        if pe is not None:
            x = x + pe
        if self.groups == self.channels:
            return parc_depthwise(x, weight, implementation, self.gcc_conv.bias, self.axis)
        return circular_conv(x, weight, self.gcc_conv.bias, self.axis, self.groups)

    def _macs(self, x: Tensor, with_bias: bool) -> float:
        """The MACs of the concatenate-and-convolve form of this convolution on ``x``."""
        n, c, h, w = x.shape
        macs = x.shape[self.axis] * (c // self.groups) * self.channels * h * w * n
        if with_bias and self.gcc_conv.bias is not None:
            macs += self.channels * h * w * n
        return float(macs)

    def profile_macs(self, inputs: Sequence[Tensor], output: Tensor) -> float:
        return self._macs(inputs[0], with_bias=True)

    def functional_macs(self, inputs: Sequence[Tensor], output: Tensor) -> float:
        """fvcore's count: the convolution without its bias."""
        return self._macs(inputs[0], with_bias=False)

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, direction={self.direction}, global_kernel_size={self.global_kernel_size}, "
                f"groups={self.groups}, use_pe={self.use_pe}, resize={self.resize}")
