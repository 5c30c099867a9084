"""Frozen batch normalization: fixed statistics and affine parameters, in training mode too.

``freeze_norm_layers`` swaps every batch (and instance) normalization for a
:class:`FrozenBatchNorm` holding the same tensors under the same names, ``num_batches_tracked``
included, so checkpoints of a frozen model load into an unfrozen one and back with
``strict=True``. Layer and group normalization have no statistics: their affine parameters stop
learning and the layers stay in place.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_STATISTICAL = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)
_AFFINE_ONLY = (nn.LayerNorm, nn.GroupNorm)


class FrozenBatchNorm(nn.Module):
    """``y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`` over dimension 1, for
    inputs of any rank (what batch norm computes in eval mode). Everything is a buffer."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    @classmethod
    def from_norm(cls, norm: nn.Module) -> "FrozenBatchNorm":
        frozen = cls(norm.num_features, norm.eps)
        frozen.to(device=norm.running_mean.device if norm.running_mean is not None else None)
        with torch.no_grad():
            if norm.affine:
                frozen.weight.copy_(norm.weight)
                frozen.bias.copy_(norm.bias)
            if norm.running_mean is not None:
                frozen.running_mean.copy_(norm.running_mean)
                frozen.running_var.copy_(norm.running_var)
                frozen.num_batches_tracked.copy_(norm.num_batches_tracked)
        return frozen

    def forward(self, x: Tensor) -> Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=False,
                            eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


def _freezable(module: nn.Module) -> bool:
    """Batch or instance normalization that keeps running statistics (what eval mode uses)."""
    return isinstance(module, _STATISTICAL) and module.running_mean is not None


def freeze_norm_layers(model: nn.Module) -> nn.Module:
    """Swap statistical normalization layers for :class:`FrozenBatchNorm` and stop the affine
    parameters of layer and group normalization from learning. Returns ``model`` (or its
    replacement, when ``model`` itself is a normalization layer)."""
    if _freezable(model):
        return FrozenBatchNorm.from_norm(model)
    if isinstance(model, _AFFINE_ONLY):
        for param in model.parameters():
            param.requires_grad_(False)
        return model
    for name, child in model.named_children():
        replacement = freeze_norm_layers(child)
        if replacement is not child:
            setattr(model, name, replacement)
    return model
