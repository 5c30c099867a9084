"""Multi-head self-attention and the pre-norm transformer encoder used by MobileViT."""
from __future__ import annotations

from typing import Any, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from cvnets.layers import LinearLayer, build_activation, build_normalization
from cvnets.misc.profiler import CountsFunctionalMacs, CountsOwnMacs


class MultiHeadAttention(nn.Module, CountsOwnMacs, CountsFunctionalMacs):
    """Self-attention over ``B x N x C`` tokens with a fused ``qkv_proj`` and an ``out_proj``."""

    def __init__(self, embed_dim: int, num_heads: int, attn_dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiHeadAttention: embed_dim {embed_dim} is not divisible by {num_heads} heads")
        self.qkv_proj = LinearLayer(embed_dim, 3 * embed_dim, bias=bias)
        self.out_proj = LinearLayer(embed_dim, embed_dim, bias=bias)
        self.embed_dim, self.num_heads, self.attn_dropout = embed_dim, num_heads, attn_dropout

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        # B x N x 3C -> 3 x B x heads x N x head_dim
        qkv = self.qkv_proj(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        dropout = self.attn_dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], dropout_p=dropout)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, c))

    def profile_macs(self, inputs: Sequence[Tensor], output: Tensor) -> float:
        # the reference profiler's convention: projections per token, and N * C^2 for each of
        # the two attention products
        b, n, c = inputs[0].shape
        projections = (c * 3 * c + 3 * c) + (c * c + c)
        return float(b * n * projections + 2 * b * n * c * c)

    def functional_macs(self, inputs: Sequence[Tensor], output: Tensor) -> float:
        """fvcore's count of the two attention products (the projections are counted as linear layers)."""
        b, n, c = inputs[0].shape
        return float(2 * b * n * n * c)


class TransformerEncoder(nn.Module):
    """``x + MHA(LN(x))`` then ``x + FFN(LN(x))`` (pre-norm), as ``pre_norm_mha`` / ``pre_norm_ffn``."""

    def __init__(self, opts: Any, embed_dim: int, ffn_latent_dim: int, num_heads: int = 8,
                 attn_dropout: float = 0.0, dropout: float = 0.1, ffn_dropout: float = 0.0,
                 norm_layer: str = "layer_norm") -> None:
        super().__init__()
        self.pre_norm_mha = nn.Sequential(
            build_normalization(opts, embed_dim, name=norm_layer),
            MultiHeadAttention(embed_dim, num_heads, attn_dropout=attn_dropout),
            nn.Dropout(dropout),
        )
        self.pre_norm_ffn = nn.Sequential(
            build_normalization(opts, embed_dim, name=norm_layer),
            LinearLayer(embed_dim, ffn_latent_dim),
            build_activation(opts, num_parameters=1),
            nn.Dropout(ffn_dropout),
            LinearLayer(ffn_latent_dim, embed_dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.pre_norm_mha(x)
        return x + self.pre_norm_ffn(x)
