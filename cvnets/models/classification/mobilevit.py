"""MobileViT (Mehta and Rastegari, ICLR 2022), the baseline ParC-Net is compared with."""
from __future__ import annotations

import argparse
from typing import Any, Optional

from torch import nn

from cvnets.layers import ConvLayer
from cvnets.models.classification.encoder import BaseEncoder, dilation_plan, mv2_layer
from cvnets.models.classification.mobilevit_config import MODES, MobileViTSpec
from cvnets.models.registry import CLS_MODEL_REGISTRY
from cvnets.modules import MobileViTBlock
from utils.errors import ConfigError
from utils.opts import add_options


@CLS_MODEL_REGISTRY.register("mobilevit")
class MobileViT(BaseEncoder):
    def __init__(self, opts: Any, output_stride: Optional[int] = None) -> None:
        super().__init__()
        mode = getattr(opts, "model.classification.mit.mode")
        if mode not in MODES:
            raise ConfigError(f"model.classification.mit.mode {mode!r}: choose one of {', '.join(MODES)}")
        head_dim = getattr(opts, "model.classification.mit.head_dim")
        num_heads = getattr(opts, "model.classification.mit.number_heads")
        if head_dim is not None and num_heads is not None:
            raise ConfigError("model.classification.mit.head_dim and model.classification.mit.number_heads "
                              "are mutually exclusive; set one of them")
        self._head_dim, self._num_heads = head_dim, num_heads or 4
        dilate = (False, False, False) + dilation_plan(output_stride)

        self.conv_1 = ConvLayer(opts, 3, 16, 3, stride=2)
        in_channels = 16
        for index, (stage, dilate_stage) in enumerate(zip(MODES[mode], dilate), start=1):
            if isinstance(stage, MobileViTSpec):
                layer = self._mobilevit_layer(opts, in_channels, stage, dilate_stage)
            else:
                layer = mv2_layer(opts, in_channels, stage)
            setattr(self, f"layer_{index}", layer)
            self._record_stage(stage.out_channels, stage.stride, dilate_stage)
            in_channels = stage.out_channels
        self._finish(opts, in_channels)

    def _mobilevit_layer(self, opts: Any, in_channels: int, stage: MobileViTSpec, dilate: bool) -> nn.Sequential:
        downsample = self._downsample(opts, in_channels, stage.out_channels, stage.stride, stage.mv_expand_ratio,
                                      dilate)
        dim = stage.transformer_channels
        head_dim = self._head_dim if self._head_dim is not None else dim // self._num_heads
        block = MobileViTBlock(
            opts, stage.out_channels, dim, stage.ffn_dim, n_transformer_blocks=stage.transformer_blocks,
            head_dim=head_dim, patch_h=stage.patch_h, patch_w=stage.patch_w,
            dropout=getattr(opts, "model.classification.mit.dropout"),
            ffn_dropout=getattr(opts, "model.classification.mit.ffn_dropout"),
            attn_dropout=getattr(opts, "model.classification.mit.attn_dropout"),
            norm_layer=getattr(opts, "model.classification.mit.transformer_norm_layer"),
            conv_ksize=getattr(opts, "model.classification.mit.conv_kernel_size"),
            no_fusion=bool(getattr(opts, "model.classification.mit.no_fuse_local_global_features")),
        )
        return nn.Sequential(downsample, block)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("MobileViT (model.classification.name: mobilevit)")
        add_options(group, "--model.classification.mit", [
            ("mode", None, "model size", dict(type=str, choices=list(MODES))),
            ("attn-dropout", 0.1, "dropout of the attention weights"),
            ("ffn-dropout", 0.0, "dropout between the FFN layers"),
            ("dropout", 0.1, "dropout in the transformer"),
            ("transformer-norm-layer", "layer_norm", "normalization in the transformer"),
            ("no-fuse-local-global-features", False, "skip the fusion of local and global features"),
            ("conv-kernel-size", 3, "kernel of the MobileViT block's convolutions"),
            ("head-dim", None, "attention head dimension (exclusive with number-heads)", dict(type=int)),
            ("number-heads", None, "attention heads (default 4; exclusive with head-dim)", dict(type=int)),
        ])
        return parser
