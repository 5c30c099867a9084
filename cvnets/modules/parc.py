"""The position aware circular convolution (ParC) operator.

A ParC convolution slides a kernel as long as the feature map along one axis (H or W) and wraps
around at the border, so every output sees the whole row or column: a global receptive field
with a depth-wise convolution's cost. The kernel is an *instance kernel* made for the current
feature size from a learnable *meta kernel*, by cropping it or by bilinear interpolation; an
optional position embedding, made the same way, is added to the input first.

``out[i] = bias + sum_k kernel[k] * x[(i + k) mod L]`` along the axis, which equals a
convolution of the input concatenated with its first ``L - 1`` rows (or columns).

Depth-wise kernels are applied as a batched product with the circulant matrix of the kernel
(one ``L x L`` matrix per channel), which is several times faster than a ``L x 1``
convolution on CPUs; at inference the matrices are cached for the last feature sizes seen.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Hashable, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

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


def _circulant_index(length: int, device: torch.device) -> Tensor:
    key = (length, device)
    index = _INDEX_CACHE.get(key)
    if index is None:
        steps = torch.arange(length, device=device)
        index = (steps[None, :] - steps[:, None]) % length
        _INDEX_CACHE[key] = index
    return index


def circulant(kernel: Tensor) -> Tensor:
    """``C x L`` kernels -> ``C x L x L`` matrices ``M[c, i, j] = kernel[c, (j - i) mod L]``."""
    return kernel[:, _circulant_index(kernel.shape[1], kernel.device)]


# "circulant": batched products with the kernels' circulant matrices (default, fastest on CPUs);
# "concat_conv": a convolution over the input concatenated with itself, as the reference computes it
IMPLEMENTATIONS = ("circulant", "concat_conv")
_implementation = "circulant"


def set_implementation(name: str) -> str:
    """Choose how depth-wise ParC convolutions are computed; returns the previous choice."""
    global _implementation
    if name not in IMPLEMENTATIONS:
        raise ValueError(f"unknown ParC implementation {name!r}; choose one of {IMPLEMENTATIONS}")
    previous, _implementation = _implementation, name
    return previous


def circular_conv_depthwise(x: Tensor, matrix: Tensor, bias: Optional[Tensor], axis: int) -> Tensor:
    """Depth-wise circular convolution of ``x`` (N x C x H x W) along ``axis`` with circulant ``matrix``."""
    if _implementation == "concat_conv":
        kernel = matrix[:, 0, :]  # the first row of a circulant matrix is its kernel
        shape = (-1, 1, kernel.shape[1], 1) if axis == 2 else (-1, 1, 1, kernel.shape[1])
        return circular_conv(x, kernel.reshape(shape), bias, axis, groups=x.shape[1])
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


def circular_conv(x: Tensor, weight: Tensor, bias: Optional[Tensor], axis: int, groups: int = 1) -> Tensor:
    """Circular convolution with a full ``weight`` (C_out x C_in/groups x L x 1 or 1 x L)."""
    length = x.shape[axis]
    if weight.shape[axis] != length:
        raise ValueError(f"ParC kernel of {weight.shape[axis]} does not match the feature size {length}")
    wrapped = torch.cat((x, x.narrow(axis, 0, length - 1)), dim=axis)
    return F.conv2d(wrapped, weight, bias, groups=groups)


class InstanceCache:
    """Remembers tensors derived from parameters (instance kernels, circulant matrices) per feature
    size while the parameters are unchanged and no gradient is wanted, i.e. at inference."""

    def __init__(self, max_entries: int = 4) -> None:
        self.max_entries = max_entries
        self._entries: Dict[Hashable, Any] = {}

    def get(self, key: Hashable, params: Sequence[Tensor], compute: Callable[[], Any]) -> Any:
        if torch.is_grad_enabled() and any(p.requires_grad for p in params):
            return compute()
        if torch.jit.is_tracing() or torch.jit.is_scripting():
            return compute()
        stamp = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in params)
        full_key = (key, stamp)
        value = self._entries.get(full_key)
        if value is None:
            value = compute()
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[full_key] = value
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __deepcopy__(self, memo: Dict[int, Any]) -> "InstanceCache":
        return InstanceCache(self.max_entries)

    def __getstate__(self) -> Dict[str, Any]:
        return {"max_entries": self.max_entries, "_entries": {}}


class ParCConv(nn.Module):
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

    def _instances(self, size: int) -> Tuple[Tensor, Optional[Tensor]]:
        method = "interpolation_bilinear" if self.resize != "none" else "fixed"
        if method == "fixed" and size != self.global_kernel_size:
            raise ValueError(
                f"ParCConv ({self.direction}) has a global kernel of {self.global_kernel_size} but the feature map "
                f"has {size}: run at the resolution the kernels were made for (224 for the ParC ConvNets) or "
                f"resize them (model.classification.parc.instance_kernel: interpolation_bilinear)")
        weight = instance_tensor(self.gcc_conv.weight, size, self.axis, "interpolation_bilinear")
        pe = instance_tensor(self.pe, size, self.axis, "interpolation_bilinear") if self.use_pe else None
        if self.groups == self.channels:
            weight = circulant(weight.flatten(1))
        return weight, pe

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[self.axis]
        params = [self.gcc_conv.weight] + ([self.pe] if self.use_pe else [])
        weight, pe = self._cache.get(size, params, lambda: self._instances(size))
        if pe is not None:
            x = x + pe
        if self.groups == self.channels:
            return circular_conv_depthwise(x, weight, self.gcc_conv.bias, self.axis)
        return circular_conv(x, weight, self.gcc_conv.bias, self.axis, self.groups)

    def profile_macs(self, inputs: Sequence[Tensor], output: Tensor, with_bias: bool = True) -> float:
        n, c, h, w = inputs[0].shape
        length = inputs[0].shape[self.axis]
        macs = length * (c // self.groups) * self.channels * h * w * n
        if with_bias and self.gcc_conv.bias is not None:
            macs += self.channels * h * w * n
        return float(macs)

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, direction={self.direction}, global_kernel_size={self.global_kernel_size}, "
                f"groups={self.groups}, use_pe={self.use_pe}, resize={self.resize}")
