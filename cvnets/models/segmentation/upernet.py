"""UperNet (``model.segmentation.name: upernet``) on the feature stages of a registered backbone, as
ConvNeXt's ADE20K experiments build it with mmsegmentation."""
from __future__ import annotations

import argparse
from typing import Any, Dict, List, Tuple, Union

import torch.nn.functional as F
from torch import Tensor, nn

from cvnets.layers import build_normalization
from cvnets.models.base import Backbone, SegmentationModel
from cvnets.models.features import reject_output_stride
from cvnets.models.registry import SEG_MODEL_REGISTRY
from cvnets.modules.uper_head import FCNHead, UPerHead
from utils.errors import ConfigError
from utils.opts import add_options


@SEG_MODEL_REGISTRY.register("upernet")
class UperNet(SegmentationModel):
    """``backbone`` (its four stages, strides 4 to 32), ``decode_head`` (:class:`UPerHead`) and,
    with ``model.segmentation.use_aux_head``, ``auxiliary_head`` (:class:`FCNHead`) on the stage
    ``model.segmentation.upernet.aux_stage``. Logits are upsampled (bilinear) to the input size;
    in training mode with the auxiliary head the forward returns ``(logits, aux_logits)``.

    The heads' normalization is ``model.normalization.name``; with ``sync_batch_norm`` the
    backbone's batch norms are synchronised too (as mmsegmentation's SyncBN configs do). The
    heads learn ``model.segmentation.lr_multiplier`` times faster.

    Args:
        opts: the options (``model.segmentation.*``).
        encoder: the backbone (a registered classification model).
    """

    profile_convention = "fvcore"

    def __init__(self, opts: Any, encoder: Backbone) -> None:
        super().__init__()
        key = "model.segmentation"
        n_classes = getattr(opts, f"{key}.n_classes")
        if not n_classes:
            raise ConfigError(f"{key}.n_classes is not set (150 for ADE20K)")
        reject_output_stride(opts, "segmentation", "upernet")
        encoder.to_feature_extractor()
        stages = encoder.feature_info()

        def norm_layer(channels: int) -> nn.Module:
            return build_normalization(opts, channels)

        sync = isinstance(norm_layer(1), nn.SyncBatchNorm)
        self.backbone = nn.SyncBatchNorm.convert_sync_batchnorm(encoder) if sync else encoder

        dropout = float(getattr(opts, f"{key}.classifier_dropout"))
        self.decode_head = UPerHead([s.channels for s in stages], int(getattr(opts, f"{key}.upernet.channels")),
                                    int(n_classes), [int(s) for s in getattr(opts, f"{key}.upernet.pool_scales")],
                                    dropout, norm_layer)
        self.aux_stage = int(getattr(opts, f"{key}.upernet.aux_stage"))
        if not 0 <= self.aux_stage < len(stages):
            raise ConfigError(f"{key}.upernet.aux_stage must be a stage index 0..{len(stages) - 1}, got {self.aux_stage}")
        self.auxiliary_head = None
        if getattr(opts, f"{key}.use_aux_head"):
            self.auxiliary_head = FCNHead(stages[self.aux_stage].channels,
                                          int(getattr(opts, f"{key}.upernet.aux_channels")), int(n_classes), dropout,
                                          norm_layer)
        self.lr_multiplier = float(getattr(opts, f"{key}.lr_multiplier"))

    def forward(self, x: Tensor) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        features = self.backbone.forward_features(x)
        size = x.shape[-2:]
        logits = F.interpolate(self.decode_head(features), size=size, mode="bilinear", align_corners=False)
        if not (self.training and self.auxiliary_head is not None):
            return logits
        aux = self.auxiliary_head(features[self.aux_stage])
        return logits, F.interpolate(aux, size=size, mode="bilinear", align_corners=False)

    def lr_multipliers(self) -> Dict[str, float]:
        heads = ["decode_head"] + (["auxiliary_head"] if self.auxiliary_head is not None else [])
        return {name: self.lr_multiplier for name in heads}

    def profile_stages(self) -> List[Tuple[str, nn.Module]]:
        """The backbone's stages and the heads (the auxiliary head runs in training only)."""
        rows = [(f"backbone.{name}", module) for name, module in self.backbone.profile_stages()]
        heads = [("decode_head", self.decode_head)]
        return rows + heads + ([("auxiliary_head", self.auxiliary_head)] if self.auxiliary_head is not None else [])

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("UperNet (model.segmentation.name: upernet)")
        add_options(group, "--model.segmentation.upernet", [
            ("channels", 512, "channels of the decode head"),
            ("pool-scales", [1, 2, 3, 6], "output sizes of the pyramid pooling branches"),
            ("aux-channels", 256, "channels of the auxiliary FCN head"),
            ("aux-stage", 2, "backbone stage (0: stride 4 .. 3: stride 32) the auxiliary head reads"),
        ])
        return parser
