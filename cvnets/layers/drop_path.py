"""Stochastic depth: drop a residual branch for whole samples."""
from __future__ import annotations

import torch
from torch import Tensor, nn


class DropPath(nn.Module):
    """Zero the input for a random ``p`` of the samples in training, scaling the others by
    ``1 / (1 - p)``; the identity in eval mode."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"DropPath probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"
