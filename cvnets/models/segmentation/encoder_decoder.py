"""Segmentation as a backbone (encoder) and a head (decoder), ``model.segmentation.name: encoder_decoder``."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple, Union

from torch import Tensor, nn

from cvnets.layers import with_task_activation
from cvnets.models.classification.base import BaseEncoder
from cvnets.models.registry import SEG_HEAD_REGISTRY, SEG_MODEL_REGISTRY
from utils.errors import ConfigError


@SEG_MODEL_REGISTRY.register("encoder_decoder")
class SegEncoderDecoder(nn.Module):
    """Backbone (``encoder``, at ``model.segmentation.output_stride``) and head (``seg_head``); the
    head's parameters learn ``model.segmentation.lr_multiplier`` times faster."""

    def __init__(self, opts: Any, encoder: BaseEncoder) -> None:
        super().__init__()
        if not isinstance(encoder, BaseEncoder):
            raise ConfigError(f"encoder_decoder needs a ParC-Net or MobileViT style backbone, got "
                              f"{type(encoder).__name__}")
        self.encoder = encoder
        self.use_l5_exp = bool(getattr(opts, "model.segmentation.use_level5_exp"))
        self.encoder.classifier = None
        if not self.use_l5_exp:
            self.encoder.conv_1x1_exp = None
        head_cls = SEG_HEAD_REGISTRY.get(getattr(opts, "model.segmentation.seg_head"))
        self.seg_head = head_cls(with_task_activation(opts, "segmentation"), encoder.model_conf_dict, self.use_l5_exp)

    def forward(self, x: Tensor) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        points: Dict[str, Tensor] = self.encoder.extract_end_points_all(x, use_l5=True, use_l5_exp=self.use_l5_exp)
        return self.seg_head(points, size=tuple(x.shape[-2:]))

    def lr_multipliers(self) -> Dict[str, float]:
        """Sub-modules whose learning rate is scaled (read by the optimizer's parameter groups)."""
        return {"seg_head": self.seg_head.lr_multiplier}

    def profile_stages(self) -> List[Tuple[str, nn.Module]]:
        return [(f"encoder.{name}", module) for name, module in self.encoder.profile_stages()] + [
            ("seg_head", self.seg_head)]
