"""The MobileViT block (Mehta and Rastegari, 2022): local convolutions, a transformer over
patches, and a fusion with the input."""
from __future__ import annotations

import math
from typing import Any, Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cvnets.layers import ConvLayer, build_normalization
from cvnets.modules.transformer import TransformerEncoder


class MobileViTBlock(nn.Module):
    def __init__(self, opts: Any, in_channels: int, transformer_dim: int, ffn_dim: int, n_transformer_blocks: int = 2,
                 head_dim: int = 32, attn_dropout: float = 0.0, dropout: float = 0.1, ffn_dropout: float = 0.0,
                 patch_h: int = 2, patch_w: int = 2, norm_layer: str = "layer_norm", conv_ksize: int = 3,
                 dilation: int = 1, no_fusion: bool = False) -> None:
        super().__init__()
        if transformer_dim % head_dim:
            raise ValueError(f"MobileViTBlock: transformer dim {transformer_dim} is not divisible by head dim {head_dim}")
        self.local_rep = nn.Sequential()
        self.local_rep.add_module("conv_3x3", ConvLayer(opts, in_channels, in_channels, conv_ksize, dilation=dilation))
        self.local_rep.add_module("conv_1x1", ConvLayer(opts, in_channels, transformer_dim, 1, use_norm=False,
                                                        use_act=False))
        encoders = [TransformerEncoder(opts, transformer_dim, ffn_dim, num_heads=transformer_dim // head_dim,
                                       attn_dropout=attn_dropout, dropout=dropout, ffn_dropout=ffn_dropout,
                                       norm_layer=norm_layer)
                    for _ in range(n_transformer_blocks)]
        self.global_rep = nn.Sequential(*encoders, build_normalization(opts, transformer_dim, name=norm_layer))
        self.conv_proj = ConvLayer(opts, transformer_dim, in_channels, 1)
        self.fusion = None if no_fusion else ConvLayer(opts, 2 * in_channels, in_channels, conv_ksize)
        self.patch_h, self.patch_w = patch_h, patch_w

    def unfolding(self, fm: Tensor) -> Tuple[Tensor, Dict[str, Any]]:
        """``B x C x H x W`` -> ``(B * patch_area) x num_patches x C``, resizing to whole patches."""
        b, c, h, w = fm.shape
        ph, pw = self.patch_h, self.patch_w
        new_h, new_w = int(math.ceil(h / ph) * ph), int(math.ceil(w / pw) * pw)
        resized = (new_h, new_w) != (h, w)
        if resized:
            fm = F.interpolate(fm, size=(new_h, new_w), mode="bilinear", align_corners=False)
        nh, nw = new_h // ph, new_w // pw
        patches = (fm.reshape(b, c, nh, ph, nw, pw)
                   .permute(0, 3, 5, 2, 4, 1)            # B, ph, pw, nh, nw, C
                   .reshape(b * ph * pw, nh * nw, c))
        return patches, {"orig_size": (h, w), "resized": resized, "batch": b, "nh": nh, "nw": nw}

    def folding(self, patches: Tensor, info: Dict[str, Any]) -> Tensor:
        b, nh, nw, ph, pw = info["batch"], info["nh"], info["nw"], self.patch_h, self.patch_w
        c = patches.shape[-1]
        fm = (patches.reshape(b, ph, pw, nh, nw, c)
              .permute(0, 5, 3, 1, 4, 2)                 # B, C, nh, ph, nw, pw
              .reshape(b, c, nh * ph, nw * pw))
        if info["resized"]:
            fm = F.interpolate(fm, size=info["orig_size"], mode="bilinear", align_corners=False)
        return fm

    def forward(self, x: Tensor) -> Tensor:
        patches, info = self.unfolding(self.local_rep(x))
        fm = self.conv_proj(self.folding(self.global_rep(patches), info))
        return fm if self.fusion is None else self.fusion(torch.cat((x, fm), dim=1))
