"""Fold a model for inference: :func:`fuse_for_inference`.

What it folds (outputs stay within 1e-4 relative error of the original model):

* batch norm (also synchronised or frozen) into the convolution before it, and into a convolution
  without padding after it (``BN -> 1x1 conv`` in the ParC block's FFN and at the end of a ParC
  stage);
* batch norm and position embeddings into the ParC convolutions (scaled kernels, one constant map
  per feature size: :mod:`cvnets.modules.parc_fused`);
* layer norm's affine parameters into the linear layer (or attention projection) after it, and
  ConvNeXt's layer scale into the linear layer before it;
* dropout, stochastic depth and identity layers out of sequential containers.

The folding operations themselves are :mod:`cvnets.layers.folding`. Modules whose structure is
not a plain sequence fold themselves (:class:`~cvnets.layers.folding.FoldsForInference`: ParC
stage, ParC bottleneck, ...); torchvision's ResNet blocks are folded by the table
:data:`CONV_NORM_PAIRS`.
"""
from __future__ import annotations

import copy
from typing import Dict, Optional, Sequence, Tuple, Type

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from cvnets.layers import DropPath
from cvnets.layers.folding import (FoldsForInference, fold_conv_norm_pairs, fold_layer_norm_into_linear,
                                   fold_norm_before_conv, fold_norm_into_conv, folds_norm_before, is_batch_norm)
from cvnets.modules.parc import ParCConv
from cvnets.modules.parc_block import ParCBlock
from cvnets.modules.parc_fused import FusedParCBlock, FusedParCConv, PlannedModule
from cvnets.modules.transformer import MultiHeadAttention

NO_OPS = (nn.Dropout, nn.Dropout2d, nn.Identity, DropPath)
# modules of other libraries whose convolutions feed batch norms held as attributes
CONV_NORM_PAIRS: Dict[Type[nn.Module], Tuple[Tuple[str, str], ...]] = {
    Bottleneck: (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")),
    BasicBlock: (("conv1", "bn1"), ("conv2", "bn2")),
}


def _fold_sequential(seq: nn.Sequential) -> None:
    items = list(seq._modules.items())
    kept = []
    i = 0
    while i < len(items):
        name, module = items[i]
        following = items[i + 1][1] if i + 1 < len(items) else None
        i += 1
        if isinstance(module, NO_OPS):
            continue
        if isinstance(module, nn.Conv2d) and is_batch_norm(following):
            fold_norm_into_conv(module, following)
            i += 1
        elif is_batch_norm(module) and folds_norm_before(following):
            fold_norm_before_conv(module, following)
            continue
        elif type(module) is nn.LayerNorm and module.elementwise_affine:
            if isinstance(following, nn.Linear):
                module = fold_layer_norm_into_linear(module, following)
            elif isinstance(following, MultiHeadAttention):
                module = fold_layer_norm_into_linear(module, following.qkv_proj)
        kept.append((name, module))
    seq._modules.clear()
    for name, module in kept:
        seq.add_module(name, module)


def _fold(module: nn.Module) -> None:
    if isinstance(module, FoldsForInference):
        module.fold_for_inference()
    if type(module) in CONV_NORM_PAIRS:
        fold_conv_norm_pairs(module, CONV_NORM_PAIRS[type(module)])
    if isinstance(module, nn.Sequential):
        _fold_sequential(module)
    for name, child in list(module.named_children()):
        if isinstance(child, ParCBlock):
            child = FusedParCBlock(child)
        elif isinstance(child, ParCConv):
            child = FusedParCConv(child)
        _fold(child)
        setattr(module, name, child)


def prepare_plans(model: nn.Module, input_size: Sequence[int]) -> None:
    """Make the folded ParC modules' plans for an ``N x 3 x H x W`` input now (one forward pass of
    a zero image), so that compiled and exported graphs hold them as constants."""
    prepared = set()

    def prepare(module: nn.Module, args: Tuple) -> None:  # before its forward, which then uses the plan
        if module not in prepared:
            prepared.add(module)
            module.prepare(*args[0].shape[-2:])

    hooks = [m.register_forward_pre_hook(prepare) for m in model.modules() if isinstance(m, PlannedModule)]
    h, w = input_size[-2], input_size[-1]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, h, w, device=next(model.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()


def fuse_for_inference(model: nn.Module, input_size: Optional[Sequence[int]] = None, inplace: bool = False,
                       channels_last: bool = False) -> nn.Module:
    """A folded copy of ``model`` for inference (eval mode, no gradients).

    Args:
        model: any model the project builds; it is left unchanged unless ``inplace``.
        input_size: ``(H, W)`` of the inputs to come: the ParC plans for it are made now (other
            sizes still work, their plans are made when first seen).
        inplace: fold ``model`` itself instead of a copy.
        channels_last: store the convolution weights in channels_last memory format.

    Returns:
        The folded model, in eval mode, with no parameter requiring gradients.
    """
    fused = model if inplace else copy.deepcopy(model)
    fused.eval()
    _fold(fused)
    for param in fused.parameters():
        param.requires_grad_(False)
    if channels_last:
        fused = fused.to(memory_format=torch.channels_last)
    if input_size is not None:
        prepare_plans(fused, input_size)
    return fused
