"""Global pooling over the spatial dimensions."""
from __future__ import annotations

import torch
from torch import Tensor, nn

POOL_TYPES = ("mean", "rms", "abs")


class GlobalPool(nn.Module):
    """Reduce ``N x C x H x W`` to ``N x C`` (or ``N x C x 1 x 1`` with ``keep_dim``)."""

    def __init__(self, pool_type: str = "mean", keep_dim: bool = False) -> None:
        super().__init__()
        if pool_type not in POOL_TYPES:
            raise ValueError(f"GlobalPool: pool_type must be one of {POOL_TYPES}, got {pool_type!r}")
        self.pool_type = pool_type
        self.keep_dim = keep_dim

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f"GlobalPool expects N x C x H x W input, got shape {tuple(x.shape)}")
        if self.pool_type == "rms":
            return torch.sqrt(torch.mean(x * x, dim=(-2, -1), keepdim=self.keep_dim))
        if self.pool_type == "abs":
            return torch.mean(torch.abs(x), dim=(-2, -1), keepdim=self.keep_dim)
        return torch.mean(x, dim=(-2, -1), keepdim=self.keep_dim)

    def extra_repr(self) -> str:
        return f"pool_type={self.pool_type}"
