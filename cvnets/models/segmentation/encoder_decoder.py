"""Segmentation as a backbone (encoder) and a head (decoder), ``model.segmentation.name: encoder_decoder``."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple, Union

from torch import Tensor, nn

from cvnets.layers import with_task_activation
from cvnets.models.base import Backbone, SegmentationModel
from cvnets.models.registry import SEG_HEAD_REGISTRY, SEG_MODEL_REGISTRY


@SEG_MODEL_REGISTRY.register("encoder_decoder")
class SegEncoderDecoder(SegmentationModel):
    """Backbone (``encoder``, at ``model.segmentation.output_stride``) and head (``seg_head``, from
    ``model.segmentation.seg_head``) on the backbone's feature stages; with
    ``model.segmentation.use_level5_exp`` the backbone's 1x1 expansion is the last feature. The
    head's parameters learn ``model.segmentation.lr_multiplier`` times faster.

    Args:
        opts: the options (``model.segmentation.*``).
        encoder: the backbone (a registered classification model).
    """

    def __init__(self, opts: Any, encoder: Backbone) -> None:
        super().__init__()
        encoder.to_feature_extractor(keep_expansion=bool(getattr(opts, "model.segmentation.use_level5_exp")))
        self.encoder = encoder
        head_cls = SEG_HEAD_REGISTRY.get(getattr(opts, "model.segmentation.seg_head"))
        self.seg_head = head_cls(with_task_activation(opts, "segmentation"), encoder.feature_info())
        self.lr_multiplier = float(getattr(opts, "model.segmentation.lr_multiplier"))

    def forward(self, x: Tensor) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        return self.seg_head(self.encoder.forward_features(x), size=tuple(x.shape[-2:]))

    def lr_multipliers(self) -> Dict[str, float]:
        return {"seg_head": self.lr_multiplier}

    def profile_stages(self) -> List[Tuple[str, nn.Module]]:
        return [(f"encoder.{name}", module) for name, module in self.encoder.profile_stages()] + [
            ("seg_head", self.seg_head)]
