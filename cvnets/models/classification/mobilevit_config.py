"""Architectures of MobileViT (x_small and small, and the xx_small of the original code)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple, Union

from cvnets.models.classification.encoder import MV2Spec


@dataclass(frozen=True)
class MobileViTSpec:
    out_channels: int
    transformer_channels: int
    ffn_dim: int
    transformer_blocks: int
    mv_expand_ratio: int
    patch_h: int = 2
    patch_w: int = 2
    stride: int = 2


MODES: Dict[str, Tuple[Union[MV2Spec, MobileViTSpec], ...]] = {
    "xx_small": (
        MV2Spec(16, 2, 1, 1),
        MV2Spec(24, 2, 3, 2),
        MobileViTSpec(48, 64, 128, 2, 2),
        MobileViTSpec(64, 80, 160, 4, 2),
        MobileViTSpec(80, 96, 192, 3, 2),
    ),
    "x_small": (
        MV2Spec(32, 4, 1, 1),
        MV2Spec(48, 4, 3, 2),
        MobileViTSpec(64, 96, 192, 2, 4),
        MobileViTSpec(80, 120, 240, 4, 4),
        MobileViTSpec(96, 144, 288, 3, 4),
    ),
    "small": (
        MV2Spec(32, 4, 1, 1),
        MV2Spec(64, 4, 3, 2),
        MobileViTSpec(96, 144, 288, 2, 4),
        MobileViTSpec(128, 192, 384, 4, 4),
        MobileViTSpec(160, 240, 480, 3, 4),
    ),
}
