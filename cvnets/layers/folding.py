"""Folding operations for inference: affine steps (normalization, layer scale) merged into the
linear layer before or after them. They act on plain torch layers and know no module of this
project, so modules use them at no risk of an import circle; :func:`cvnets.misc.fuse.fuse_for_inference`
walks a model and applies them.

A module whose structure the walker cannot see (a norm held as an attribute, a ParC pair)
derives from :class:`FoldsForInference` and folds itself with these operations.
"""
from __future__ import annotations

import abc
from typing import Iterable, Optional, Tuple

import torch
from torch import Tensor, nn

from cvnets.layers.frozen_norm import FrozenBatchNorm

BATCH_NORMS = (nn.BatchNorm2d, nn.SyncBatchNorm, FrozenBatchNorm)


class FoldsForInference(abc.ABC):
    """A module that folds its own affine steps away; ``fuse_for_inference`` calls
    :meth:`fold_for_inference` (in eval mode, before folding its children)."""

    @abc.abstractmethod
    def fold_for_inference(self) -> None:
        """Fold in place; the outputs in eval mode stay the same."""


def is_batch_norm(module: Optional[nn.Module]) -> bool:
    """A batch norm (also synchronised or frozen) with running statistics, which folds."""
    return isinstance(module, BATCH_NORMS) and module.running_mean is not None


def norm_affine(norm: nn.Module) -> Tuple[Tensor, Tensor]:
    """``(scale, shift)`` of a batch norm (or frozen batch norm) in eval mode: ``y = scale * x + shift``."""
    var = norm.running_var.detach().double()
    scale = torch.rsqrt(var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight.detach().double()
    shift = -norm.running_mean.detach().double() * scale
    if norm.bias is not None:
        shift = shift + norm.bias.detach().double()
    dtype = norm.running_mean.dtype
    return scale.to(dtype), shift.to(dtype)


def fold_norm_into_conv(conv: nn.Conv2d, norm: nn.Module) -> None:
    """``norm(conv(x))`` becomes ``conv(x)`` with scaled weights and a bias."""
    scale, shift = norm_affine(norm)
    with torch.no_grad():
        bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
        conv.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        conv.bias = nn.Parameter(bias * scale + shift, requires_grad=False)


def folds_norm_before(conv: Optional[nn.Module]) -> bool:
    """Whether ``conv(norm(x))`` folds: a convolution that pads nothing sees only normalised values."""
    return isinstance(conv, nn.Conv2d) and tuple(conv.padding) == (0, 0)


def fold_norm_before_conv(norm: nn.Module, conv: nn.Conv2d) -> None:
    """``conv(norm(x))`` becomes ``conv(x)`` with weights scaled per input channel and a bias."""
    scale, shift = norm_affine(norm)
    groups, out_channels = conv.groups, conv.out_channels
    per_group = conv.in_channels // groups
    # the input channels each output channel reads, as (out_channels, in_channels / groups)
    scale = scale.view(groups, 1, per_group).expand(groups, out_channels // groups, per_group).reshape(out_channels, -1)
    shift = shift.view(groups, 1, per_group).expand(groups, out_channels // groups, per_group).reshape(out_channels, -1)
    with torch.no_grad():
        added = (conv.weight * shift[:, :, None, None]).sum(dim=(1, 2, 3))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(added)
        conv.weight.copy_(conv.weight * scale[:, :, None, None])
        conv.bias = nn.Parameter(bias + added, requires_grad=False)


def fold_layer_norm_into_linear(norm: nn.LayerNorm, linear: nn.Linear) -> nn.LayerNorm:
    """``linear(norm(x))``: the norm's affine parameters move into ``linear``; returns the plain norm."""
    with torch.no_grad():
        added = linear.weight @ norm.bias if norm.bias is not None else 0.0
        if norm.weight is not None:
            linear.weight.copy_(linear.weight * norm.weight[None, :])
        bias = linear.bias if linear.bias is not None else torch.zeros(linear.out_features)
        linear.bias = nn.Parameter(bias + added, requires_grad=False)
    return nn.LayerNorm(norm.normalized_shape, eps=norm.eps, elementwise_affine=False)


def scale_linear_output(linear: nn.Linear, scale: Tensor) -> None:
    """``scale * linear(x)`` becomes ``linear(x)``."""
    with torch.no_grad():
        linear.weight.copy_(linear.weight * scale[:, None])
        if linear.bias is not None:
            linear.bias.copy_(linear.bias * scale)


def fold_conv_norm_pairs(module: nn.Module, pairs: Iterable[Tuple[str, str]]) -> None:
    """Fold each ``(conv, norm)`` attribute pair of ``module``; the norms become identities."""
    for conv_name, norm_name in pairs:
        norm = module.get_submodule(norm_name)
        if is_batch_norm(norm):
            fold_norm_into_conv(module.get_submodule(conv_name), norm)
            setattr(module, norm_name, nn.Identity())
